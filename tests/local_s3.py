"""moto's S3 server on 127.0.0.1 for the object storage tests (no other network): credentials and
the endpoint reach every client only through the standard AWS environment variables, as they
would on a cluster."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

import pytest

from neuroshards.sources.objects import object_filesystem
from neuroshards.sources.remote import RemoteOptions


@contextlib.contextmanager
def local_s3_server(bucket: str) -> Iterator[tuple[object, dict[str, str]]]:
    """Start the server, create ``bucket`` and point this process's AWS variables at it; yields the
    server's filesystem and the variables (for other processes: DataLoader workers, Ray tasks)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    variables = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
                patch.delenv(name, raising=False)
            for name, value in variables.items():
                patch.setenv(name, value)
            fs = object_filesystem("s3", RemoteOptions.from_environment())
            fs.mkdir(bucket)
            yield fs, variables
    finally:
        server.stop()
