"""Writers for InfluxDB 1.x (`/write`) and 2.x/3.x (influxdb-client), behind one interface.

Both take line protocol and sort failures into retry (connection, 5xx, 429, and a database,
bucket or login InfluxDB does not know) and reject (the data itself is bad: the other 4xx), so
the caller can hold a batch or dead-letter it.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from typing import Any, Protocol

from contract.config import read_secret
from contract.errors import BarbellError
from server.config import InfluxSettings


class WriteError(BarbellError, ConnectionError):
    """InfluxDB did not take the batch (or answer the query). `retry` says whether trying
    again can help."""

    def __init__(self, message: str, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


# Not the data's fault: no such database or bucket (404), a refused login (401, 403), a timeout
# or overload. Dead-lettering would throw away every good rep until someone fixes the server.
_NOT_THE_DATA = frozenset({401, 403, 404, 408, 429})


def _retryable(status: int) -> bool:
    return status >= 500 or status in _NOT_THE_DATA


class Writer(Protocol):
    def write(self, lines: list[str]) -> None: ...

    def close(self) -> None: ...


class V1Writer:
    """POST /write with db, rp and precision=ns; user and password as 1.x expects them."""

    def __init__(self, settings: InfluxSettings, timeout_s: float = 10.0) -> None:
        params = {"db": settings.database, "precision": "ns"}
        if settings.retention_policy:
            params["rp"] = settings.retention_policy
        self._url = f"{settings.url.rstrip('/')}/write?{urllib.parse.urlencode(params)}"
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        if settings.username:
            secret = f"{settings.username}:{read_secret(settings.password_file) or ''}"
            self._headers["Authorization"] = "Basic " + b64encode(secret.encode()).decode()
        self._timeout_s = timeout_s

    def write(self, lines: list[str]) -> None:
        request = urllib.request.Request(
            self._url, data="\n".join(lines).encode(), headers=self._headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s):
                return
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")[:300]
            raise WriteError(f"InfluxDB {exc.code}: {body}", _retryable(exc.code)) from None
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, cut short, DNS
            raise WriteError(f"InfluxDB unreachable: {exc!r}", retry=True) from None

    def close(self) -> None:
        pass


class V2Writer:
    """influxdb-client's synchronous write API: token, org and bucket."""

    def __init__(self, settings: InfluxSettings, timeout_s: float = 10.0) -> None:
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self._client = InfluxDBClient(
            url=settings.url,
            token=read_secret(settings.token_file) or "",
            org=settings.org or "",
            timeout=int(timeout_s * 1000),
            retries=0,  # retrying is the caller's decision, made with the batch in hand
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)
        assert settings.org and settings.bucket  # the settings check this at start-up
        self._bucket, self._org = settings.bucket, settings.org

    def write(self, lines: list[str]) -> None:
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError as TransportError

        try:
            self._api.write(bucket=self._bucket, org=self._org, record=lines)
        except ApiException as exc:
            status = int(exc.status or 0)
            raise WriteError(
                f"InfluxDB {status}: {exc.body or exc.reason}", _retryable(status)
            ) from None
        except (OSError, TransportError) as exc:
            raise WriteError(f"InfluxDB unreachable: {exc}", retry=True) from None

    def close(self) -> None:
        self._client.close()


def make_writer(settings: InfluxSettings) -> Writer:
    return V2Writer(settings) if settings.api == 2 else V1Writer(settings)


class InfluxReader:
    """InfluxQL through `/query`, which 1.x serves natively and 2.x/3.x through their v1
    compatibility API (a DBRP mapping names the bucket as a database), so history is read the
    same way whichever writer stores it."""

    def __init__(self, settings: InfluxSettings, timeout_s: float = 10.0) -> None:
        self._url = f"{settings.url.rstrip('/')}/query"
        self._database = settings.database
        self._headers: dict[str, str] = {}
        if settings.api == 2:
            self._headers["Authorization"] = f"Token {read_secret(settings.token_file) or ''}"
            self._database = settings.bucket or settings.database
        elif settings.username:
            secret = f"{settings.username}:{read_secret(settings.password_file) or ''}"
            self._headers["Authorization"] = "Basic " + b64encode(secret.encode()).decode()
        self._timeout_s = timeout_s

    def query(self, influxql: str) -> list[dict[str, Any]]:
        """The result rows as dicts of column → value, series tags included."""
        body = urllib.parse.urlencode({"q": influxql, "db": self._database}).encode()
        request = urllib.request.Request(self._url, data=body, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                document = json.load(response)
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")[:300]
            raise WriteError(f"InfluxDB {exc.code}: {text}", _retryable(exc.code)) from None
        except (OSError, http.client.HTTPException) as exc:
            raise WriteError(f"InfluxDB unreachable: {exc}", retry=True) from None
        rows: list[dict[str, Any]] = []
        for result in document.get("results", []):
            if "error" in result:
                raise WriteError(f"InfluxQL error: {result['error']}", retry=False)
            for series in result.get("series", []):
                tags = series.get("tags", {})
                columns = series["columns"]
                rows += [
                    dict(zip(columns, values, strict=True), **tags) for values in series["values"]
                ]
        return rows
