"""Guarded connections: resolve the host, check every address against the guard, connect to a checked address.

The check at connect time (not only before the request) is what defeats DNS rebinding: the name is resolved once,
here, and the connection goes to an address that was checked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from . import netguard
from .deadline import current

if TYPE_CHECKING:  # the mixin below is only ever combined with urllib3's connection classes
    _ConnectionBase = HTTPConnection
else:
    _ConnectionBase = object


def guarded_pools(allow: netguard.Allowlist):
    """Connection pool classes whose connections only ever connect to addresses the guard accepted."""

    class _Guarded(_ConnectionBase):
        def _new_conn(self):
            deadline = getattr(current, "deadline", None)
            if deadline is not None:  # covers the TLS handshake, which happens before request()
                deadline.attach(self)
            addresses = netguard.resolve_checked(self._dns_host, self.port, allow)
            error: Exception | None = None
            for ip in addresses:
                try:
                    return urllib3_connection.create_connection(
                        (str(ip), self.port),
                        self.timeout,
                        source_address=self.source_address,
                        socket_options=self.socket_options,
                    )
                except TimeoutError as exc:
                    error = ConnectTimeoutError(self, f"Connection to {self.host} timed out")
                    error.__cause__ = exc
                except OSError as exc:
                    error = NewConnectionError(self, f"Failed to establish a new connection: {exc}")
                    error.__cause__ = exc
            raise error  # type: ignore[misc]

        def request(self, *args, **kwargs):
            deadline = getattr(current, "deadline", None)
            if deadline is not None:
                deadline.attach(self)
            return super().request(*args, **kwargs)

    class GuardedHTTPConnection(_Guarded, HTTPConnection):
        pass

    class GuardedHTTPSConnection(_Guarded, HTTPSConnection):
        pass

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    return {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}


class GuardedAdapter(HTTPAdapter):
    def __init__(self, allow: netguard.Allowlist, **kwargs):
        self._pool_classes = guarded_pools(allow)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes
