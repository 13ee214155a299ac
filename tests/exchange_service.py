"""A real HTTP server on 127.0.0.1 speaking 1C's `exchange_dsl_1_0_0_1`, in front of any "base".

Public API: `ExchangeService(base, user=..., password=...)` (a context manager; `.url` is the
publication URL to put in `transport.url`), `Fault`.

The base is any object with `export_message() -> bytes | None` (the XML of a new message for
onecsync; None: nothing, served as an empty file) and `import_message(data: bytes) -> None`
(raise to make the import fail, as 1C reports a failed background job). The shapes of requests
and answers are those of SSL 3.1.12 `HTTPServices/exchange_dsl_1_0_0_1/Ext/Module.bsl` and
`CommonModules/ExchangeWebServiceOperationData` (see onecsync/transport/http.py): JSON answers
(labelled text/html as 1C does for GetIBParameters), errors as 400 {"Message": …}, files as a
zip of one entry split into BlockSize-KiB parts, long operations polled until "Completed".

Faults for tests are queued per operation: `service.fail("GetFilePart", Fault.CUT)` makes the
next GetFilePart send half its body and drop the connection; `service.answer(op, body)` makes
the next call of `op` answer 200 with exactly these bytes (a malformed or hostile answer);
`service.pause = s` makes every answer wait `s` seconds (a slow base, each answer in time).
"""

from __future__ import annotations

import enum
import gzip
import io
import json
import socket
import threading
import time
import uuid
import zipfile
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

from tests.local_http import LocalServer
from tests.local_http import QuietHandler
from tests.local_http import basic_credentials

SERVICE = "/hs/exchange_dsl_1_0_0_1"
TRICKLE_PAUSE = 0.5
TRICKLE_LONGEST = 60.0  # the test server's own bound: it stops trickling after this
FLOOD_LONGEST = 1 << 30
LOGIN_PAGE = (b"<!DOCTYPE html><html><head><title>Sign in - Corporate Proxy</title></head>"
              b"<body><form>login</form></body></html>")


class Fault(enum.Enum):
    CUT = "cut"            # headers with the full Content-Length, half the body, connection closed
    DROP = "drop"          # connection closed without any answer
    HANG = "hang"          # no answer until after the client's read timeout
    ERROR_500 = 500
    ERROR_502 = 502
    ERROR_400 = 400        # 1C's ErrorResponse: {"Message": …}
    ERROR_401 = 401
    ERROR_403 = 403
    ERROR_404 = 404
    HTML_200 = "html"      # a login page with status 200
    TRICKLE = "trickle"    # a valid-looking answer, one byte every TRICKLE_PAUSE seconds
    OVERSIZE = "oversize"  # GetFilePart: the part asked for, and as much again
    FLOOD = "flood"        # an answer without Content-Length that goes on (FLOOD_LONGEST bytes)
    GZIP = "gzip"          # the true answer, gzipped, Content-Length its compressed size
    EARLY_HINTS = "102"    # a flood of "102 Processing" interim answers, then nothing


class _State:
    def __init__(self, base, user: str, password: str, long_polls: int,
                 ib_parameters: dict | None) -> None:
        self.base = base
        self.credentials = (user, password)
        self.long_polls = long_polls
        self.ib_parameters = ib_parameters or {}
        self.lock = threading.Lock()
        self.files: dict[str, bytes] = {}
        self.get_sessions: dict[str, list[bytes]] = {}
        self.put_sessions: dict[str, dict[int, bytes]] = {}
        self.operations: dict[str, dict] = {}
        self.faults: dict[str, list[Fault]] = {}
        self.answers: dict[str, list[bytes]] = {}
        self.calls: list[tuple[str, str, dict]] = []
        self.hang_seconds = 2.0
        self.pause = 0.0  # a slow base: every answer waits this long, each within its bound
        self.imported: list[bytes] = []
        self.archive_password: str | None = None  # the node's "пароль архива", if set


def _zip_one(data: bytes, name: str = "data.xml", password: str | None = None) -> bytes:
    buf = io.BytesIO()
    if password is None:
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(name, data)
    else:
        import pyzipper

        with pyzipper.AESZipFile(buf, "w", compression=pyzipper.ZIP_DEFLATED,
                                 encryption=pyzipper.WZ_AES) as zf:
            zf.setpassword(password.encode("utf-8"))
            zf.writestr(name, data)
    return buf.getvalue()


def _unzip_first(data: bytes, password: str | None) -> bytes:
    if password is None:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return zf.read(zf.infolist()[0])  # 1C unpacks the first entry
    import pyzipper

    with pyzipper.AESZipFile(io.BytesIO(data)) as zf:
        zf.setpassword(password.encode("utf-8"))
        return zf.read(zf.infolist()[0])


class _Handler(QuietHandler):
    state: _State  # set on the subclass made per server

    # -- plumbing -------------------------------------------------------------------------
    def _json(self, value, status: int = 200) -> None:
        # 1C's ValueToJSON; GetIBParameters even labels it text/html.
        self._send(status, json.dumps(value, ensure_ascii=False).encode("utf-8"))

    def _error(self, message: str) -> None:
        self._json({"Message": message}, 400)

    def _send(self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8",
              extra: dict | None = None) -> None:
        if getattr(self, "gzipped", False):  # whatever Accept-Encoding asked for
            body, extra = gzip.compress(body), {**(extra or {}), "Content-Encoding": "gzip"}
        super()._send(status, body, ctype, extra)

    def _fault(self, fault: Fault, body: bytes = b"") -> None:
        if fault is Fault.EARLY_HINTS:
            try:
                self.wfile.write(b"HTTP/1.1 102 Processing\r\n\r\n" * 100)
                self.wfile.flush()
            except OSError:
                pass
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif fault is Fault.CUT:
            body = body or b"x" * 4096
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif fault is Fault.DROP:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif fault is Fault.HANG:
            time.sleep(self.state.hang_seconds)
            self.close_connection = True
        elif fault is Fault.TRICKLE:
            body = body or b'{"Message": "' + b"." * 4000 + b'"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            end = time.monotonic() + TRICKLE_LONGEST
            try:
                for byte in body:
                    if time.monotonic() > end:
                        break
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(TRICKLE_PAUSE)
            except OSError:
                pass  # the client gave up: what is under test
            self.close_connection = True
        elif fault is Fault.FLOOD:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b" " * (1 << 16)
            try:
                for _ in range(FLOOD_LONGEST // len(chunk)):
                    self.wfile.write(chunk)
            except OSError:
                pass  # the client gave up: what is under test
            self.close_connection = True
        elif fault is Fault.HTML_200:
            self._send(200, LOGIN_PAGE)
        elif fault is Fault.ERROR_400:
            self._error("Узел плана обмена не найден (injected)")
        elif fault in (Fault.ERROR_401, Fault.ERROR_403, Fault.ERROR_404):
            self._send(fault.value, b"<html><head><title>Denied</title></head></html>")
        else:
            self._send(fault.value, b"<html><head><title>Bad Gateway</title></head></html>")

    def _route(self, method: str) -> None:
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        i = parts.path.find(SERVICE)
        op = parts.path[i + len(SERVICE):].strip("/").removeprefix("v1/") if i >= 0 else ""
        st = self.state
        with st.lock:
            st.calls.append((method, op, params))
            queued = st.faults.get(op)
            fault = queued.pop(0) if queued else None
            raw = st.answers.get(op)
            raw = raw.pop(0) if raw else None
        if basic_credentials(self.headers.get("Authorization")) != st.credentials:
            self._send(401, b"", extra={"WWW-Authenticate": 'Basic realm="1C"'})
            return
        time.sleep(st.pause)
        self.gzipped = fault is Fault.GZIP
        if self.gzipped:
            fault = None
        if raw is not None:
            self._send(raw[0], raw[1], "application/json; charset=utf-8")
            return
        if fault is not None and (fault not in (Fault.CUT, Fault.TRICKLE, Fault.OVERSIZE)
                                  or op != "GetFilePart"):
            self._fault(fault)
            return
        handler = getattr(self, f"op_{op}_{method}", None)
        if handler is None:
            self._send(404, b"<html><head><title>404 Not Found</title></head></html>")
            return
        try:
            handler(params, body, fault)
        except _Refuse as exc:
            self._error(str(exc))

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    # -- the operations -------------------------------------------------------------------
    def op_version_GET(self, params, body, fault) -> None:
        self._send(200, b"1")

    def _node_known(self, params) -> bool:
        """As 1C's service finds the node by NodeCode (a base that knows its node's code)."""
        code = getattr(getattr(self.state.base, "base", None), "node_code", None)
        return code is None or params.get("NodeCode", "").lower() == code.lower()

    def _need_node(self, params) -> None:
        if not self._node_known(params):
            raise _Refuse(f"Узел плана обмена с кодом {params.get('NodeCode')} не найден")

    def op_GetIBParameters_GET(self, params, body, fault) -> None:
        self._json({"ExchangePlanExists": True, "NodeExists": self._node_known(params),
                    **self.state.ib_parameters})

    def _operation(self, error: str | None) -> dict:
        st = self.state
        op_id = str(uuid.uuid4())
        st.operations[op_id] = {"polls": st.long_polls, "error": error}
        return {"TimeConsumingOperation": st.long_polls > 0, "OperationID": op_id}

    def op_UploadData_POST(self, params, body, fault) -> None:
        st = self.state
        _need(params, "ExchangePlanName", "NodeCode")
        self._need_node(params)
        error = None
        try:
            data = st.base.export_message()
        except Exception as exc:  # the base's export failed, as a background job would
            data, error = None, f"Ошибка выгрузки данных: {exc}"
        file_id = str(uuid.uuid4())
        with st.lock:
            st.files[file_id] = _zip_one(data, password=st.archive_password) \
                if data is not None else b""
            answer = self._operation(error)
        if not answer["TimeConsumingOperation"]:
            if error:
                raise _Refuse(error)
            answer["OperationID"] = None
        self._json({**answer, "FileID": file_id})

    def op_GetContinuousOperationStatus_GET(self, params, body, fault) -> None:
        st = self.state
        with st.lock:
            op = st.operations.get(params.get("OperationID", ""))
            if op is None:
                raise _Refuse(f"No long-running operation with ID {params.get('OperationID')} "
                              "was found.")
            if op["polls"] > 0:
                op["polls"] -= 1
                self._json({"ActionState": "Active", "Message": None})
                return
        if op["error"]:
            raise _Refuse(op["error"])  # 1C answers a failed job with ErrorResponse
        self._json({"ActionState": "Completed", "Message": None})

    def op_PrepareGetFile_POST(self, params, body, fault) -> None:
        st = self.state
        block = int(params.get("BlockSize", "0")) * 1024
        with st.lock:
            data = st.files.pop(params.get("FileID", ""), None)  # 1C moves the file out
            if data is None:
                raise _Refuse(f"file {params.get('FileID')} is not in the storage")
            chunks = [data[i:i + block] for i in range(0, len(data), block)] if block \
                else ([data] if data else [])
            session = str(uuid.uuid4())
            st.get_sessions[session] = chunks
        self._json({"SessionID": session, "PartCount": len(chunks)})

    def op_GetFilePart_GET(self, params, body, fault) -> None:
        st = self.state
        with st.lock:
            chunks = st.get_sessions.get(params.get("SessionID", ""))
            n = int(params.get("PartNumber", "0"))
            if chunks is None or not 1 <= n <= len(chunks):
                raise _Refuse(f"Part {n} of the transfer session with ID "
                              f"{params.get('SessionID')} is not found")
            data = chunks[n - 1]
        if fault is Fault.OVERSIZE:
            data = data + b"\0" * len(data)
        elif fault is not None:
            self._fault(fault, data)
            return
        self._send(200, data, "application/octet-stream")

    def op_ReleaseFile_DELETE(self, params, body, fault) -> None:
        with self.state.lock:
            self.state.get_sessions.pop(params.get("SessionID", ""), None)
        self._send(200, b"")

    def op_PutFilePart_POST(self, params, body, fault) -> None:
        with self.state.lock:
            parts = self.state.put_sessions.setdefault(params["SessionID"], {})
            parts[int(params["PartNumber"])] = body
        self._send(200, b"")

    def op_SaveFileFromParts_POST(self, params, body, fault) -> None:
        st = self.state
        with st.lock:
            parts = st.put_sessions.pop(params.get("SessionID", ""), {})
            count = int(params.get("PartCount", "0"))
            missing = [n for n in range(1, count + 1) if n not in parts]
            if missing:
                raise _Refuse(f"Part {missing[0]} of the transfer session with ID "
                              f"{params.get('SessionID')} is not found.")
            data = b"".join(parts[n] for n in range(1, count + 1))
            try:
                content = _unzip_first(data, st.archive_password)
            except (zipfile.BadZipFile, IndexError, RuntimeError) as exc:
                raise _Refuse(f"The archive file is empty or broken: {exc}") from None
            file_id = str(uuid.uuid4())
            st.files[file_id] = content
        self._json({"FileID": file_id})

    def op_DownloadData_POST(self, params, body, fault) -> None:
        st = self.state
        _need(params, "ExchangePlanName", "NodeCode", "FileID")
        self._need_node(params)
        with st.lock:
            data = st.files.pop(params["FileID"], None)
        if data is None:
            raise _Refuse(f"file {params['FileID']} is not in the storage")
        error = None
        try:
            st.base.import_message(data)
            st.imported.append(data)
        except Exception as exc:  # the base's import failed, as a background job would
            error = f"Ошибка загрузки данных: {exc}"
        with st.lock:
            answer = self._operation(error)
        if not answer["TimeConsumingOperation"]:
            if error:
                raise _Refuse(error)
            answer["OperationID"] = None
        self._json(answer)


class _Refuse(Exception):
    pass


def _need(params: dict, *names: str) -> None:
    for name in names:
        if not params.get(name):
            raise _Refuse(f"parameter {name} is missing")


class ExchangeService(LocalServer):
    """The service for one base, on an ephemeral port of 127.0.0.1, served from a thread."""

    def __init__(self, base, *, user: str = "sync", password: str = "s3cret",
                 publication: str = "bp", long_polls: int = 0,
                 ib_parameters: dict | None = None) -> None:
        self.state = _State(base, user, password, long_polls, ib_parameters)
        super().__init__(type("Handler", (_Handler,), {"state": self.state}))
        self.url = f"http://127.0.0.1:{self.port}/{publication}"

    def fail(self, op: str, *faults: Fault) -> None:
        with self.state.lock:
            self.state.faults.setdefault(op, []).extend(faults)

    def answer(self, op: str, *bodies: bytes, status: int = 200) -> None:
        """The next answers to `op`, in turn, instead of the truth (with `status`)."""
        with self.state.lock:
            self.state.answers.setdefault(op, []).extend((status, b) for b in bodies)

    def calls(self, op: str | None = None) -> list[tuple[str, str, dict]]:
        with self.state.lock:
            return [c for c in self.state.calls if op is None or c[1] == op]

    @property
    def long_polls(self) -> int:
        return self.state.long_polls

    @long_polls.setter
    def long_polls(self, n: int) -> None:
        self.state.long_polls = n

    @property
    def pause(self) -> float:
        return self.state.pause

    @pause.setter
    def pause(self, seconds: float) -> None:
        self.state.pause = seconds

    @property
    def imported(self) -> list[bytes]:
        return list(self.state.imported)
