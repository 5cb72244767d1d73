# syntax=docker/dockerfile:1
# The tracepost image plus Microsoft's ODBC Driver 18 for SQL Server (msodbcsql18), for a
# customer who prefers it to the FreeTDS driver the base image carries.
#
# msodbcsql18 is not redistributable: it comes from Microsoft's package repository, and
# installing it means accepting Microsoft's EULA, which is why it is a separate, explicit build
# (ACCEPT_EULA must be passed as Y) and was never built on the development machines (they reach
# no such repository). Build the base image first, then:
#
#   docker build -f deploy/Dockerfile -t tracepost:0.1.0 .
#   docker build -f deploy/msodbcsql18.Dockerfile --build-arg BASE_IMAGE=tracepost:0.1.0 \
#       --build-arg ACCEPT_EULA=Y -t tracepost:0.1.0-msodbcsql18 .
#
# and run it with TRACEPOST_ERP_ODBC_DRIVER="ODBC Driver 18 for SQL Server" (driver 18 encrypts
# by default: add ?TrustServerCertificate=yes to TRACEPOST_ERP_URL only for a self-signed
# server certificate you have checked). The base is Debian bookworm (deploy/Dockerfile).

ARG BASE_IMAGE=tracepost:latest
FROM ${BASE_IMAGE}
ARG ACCEPT_EULA=N
USER root
RUN test "${ACCEPT_EULA}" = "Y" \
    || { echo "pass --build-arg ACCEPT_EULA=Y to accept Microsoft's msodbcsql18 EULA" >&2; exit 1; } \
 && apt-get update \
 && apt-get install -y --no-install-recommends curl gnupg ca-certificates \
 && curl -fsSL https://packages.microsoft.com/keys/microsoft.asc \
    | gpg --dearmor -o /usr/share/keyrings/microsoft-prod.gpg \
 && curl -fsSL https://packages.microsoft.com/config/debian/12/prod.list \
    -o /etc/apt/sources.list.d/mssql-release.list \
 && apt-get update \
 && ACCEPT_EULA=Y apt-get install -y --no-install-recommends msodbcsql18 \
 && apt-get purge -y --auto-remove curl gnupg \
 && rm -rf /var/lib/apt/lists/*
USER 10001:10001
