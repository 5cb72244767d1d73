"""Connecting to Temporal with tracepost's data converter (pydantic payloads, AES-GCM encrypted)."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from workers.codec import codec_from_settings
from workers.settings import Settings
from workers.telemetry import client_interceptors
from workers.temporal_connection import connection_options


def encrypted_data_converter(codec: PayloadCodec) -> DataConverter:
    """The pydantic data converter with a payload codec.

    Failure messages and stack traces move into an encoded attribute, so the codec encrypts them
    too (they can name a customer); a client or worker with the same codec reads them as usual.

    Args:
        codec: the payload codec (``workers.codec.AesGcmCodec``).

    Returns:
        The data converter for clients, workers and replayers.
    """
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def data_converter(settings: Settings) -> DataConverter:
    """The data converter of every tracepost process: pydantic payloads, encrypted by the codec.

    ``TRACEPOST_CODEC=off`` leaves the payloads unencrypted.

    Args:
        settings: tracepost settings (codec, keys).

    Returns:
        The data converter.

    Raises:
        CodecKeyError: the codec is on and no usable key is configured.
    """
    codec = codec_from_settings(settings)
    return pydantic_data_converter if codec is None else encrypted_data_converter(codec)


async def connect(settings: Settings) -> Client:
    """Connect a Temporal client configured for tracepost.

    Args:
        settings: tracepost settings (address, namespace, payload encryption).

    Returns:
        The connected client.

    Raises:
        CodecKeyError: payload encryption is on and no key is configured.
        TemporalConnectionError: the TLS / API key settings cannot work (names the setting).
    """
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        interceptors=client_interceptors(),  # tracing, once configure_tracing ran
        **connection_options(settings),
    )
