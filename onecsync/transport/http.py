"""1C's HTTP exchange service `exchange_dsl_1_0_0_1`, called as 1C's own "Интернет" transport does.

Public API: `HttpTransport`, `SERVICE`.

The calls, their parameters and answers follow SSL 3.1.12 (1c-syntax/ssl_3_1_eng @ 5c8e0a86):
the client `DataProcessors/ExchangeMessageTransportHTTP/Ext/ObjectModule.bsl` (GetExchangeMessage,
GetFileFromStorageInService, SendExchangeMessage, PutFileInStorageInService,
WaitingForTheOperationToComplete, ExecuteHTTPRequest), the service `HTTPServices/
exchange_dsl_1_0_0_1/Ext/Module.bsl` and `CommonModules/ExchangeWebServiceOperationData`:
  fetch:   POST v1/UploadData?ExchangePlanName&NodeCode&TimeConsumingOperationAllowed
             → {FileID, TimeConsumingOperation, OperationID}
           GET  v1/GetContinuousOperationStatus?OperationID → {ActionState: Active|Completed|
             Failed|Canceled, Message}  (a failed job answers 400 {"Message"})
           POST v1/PrepareGetFile?FileID&BlockSize (KiB) → {SessionID, PartCount}
           GET  v1/GetFilePart?SessionID&PartNumber (1…PartCount) → the bytes of a zip part
           DELETE v1/ReleaseFile?SessionID
  deliver: POST v1/PutFilePart?SessionID&PartNumber (body: the part), SessionID our new UUID
           POST v1/SaveFileFromParts?SessionID&PartCount → {FileID}
           POST v1/DownloadData?ExchangePlanName&NodeCode&FileID&TimeConsumingOperationAllowed
             → {TimeConsumingOperation, OperationID}, then wait as above.
NodeCode is OUR code (the node that stands for onecsync in the base's plan). The file both ways
is a zip whose single entry is the message (1C reads its first entry). Parts are streamed to and
from a file in the spool: a message of gigabytes never sits in memory.

What "fetch" means here. A folder holds the base's last message until the base writes another;
over HTTP there is no such file: every UploadData makes the base export a NEW message for us,
numbered its SentNo + 1 and carrying everything we have not confirmed. So:
- The fingerprint (a hash of the downloaded zip) differs on every run and the "unchanged file"
  shortcut never fires; the MessageNo inside decides, as always.
- A message fetched and then rejected, or lost to a crash before it was staged, is simply never
  confirmed: the next run's UploadData brings a newer number with the same data (and more). A
  skipped number is harmless; 1C itself never requires consecutive numbers.
- Fetching has a side effect on the base (it numbers a message), even in --dry-run: that is the
  only way to read it, and it is what the base does on any exchange whose message got lost.

What "in_place" means here. A message is in place once the base has IMPORTED it: DownloadData's
operation completed. Only then is its fingerprint written as the receipt in the spool. A failed
or interrupted delivery (a part lost, SaveFileFromParts or DownloadData refused, the import
failed, a connection timed out) leaves no receipt, so the next run sends a new message with everything still
unconfirmed; nothing is re-sent blindly within a run. If the base imported it but its answer got
lost, the next run sends the same objects again under a newer number, which 1C accepts and
applies idempotently.

An export or import still running after wait_timeout is waited for again by the next run, by
its OperationID kept in the spool, not started again (transport/operations.py): `fetch` then
goes on to the FileID the export named, `in_place` answers once that import completed.

Retried within a run (safe to repeat): status polls, GetFilePart (reads a part file), PutFilePart
(rewrites the same part file, `PutFileChunk`), ReleaseFile. Never retried: UploadData,
PrepareGetFile (it moves the file out of storage), SaveFileFromParts, DownloadData.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any
from typing import Callable

from onecsync import answers
from onecsync import clock
from onecsync.config import HttpConfig
from onecsync.errors import ConfigError
from onecsync.errors import OnecsyncError
from onecsync.errors import TemporaryError
from onecsync.httpclient import HttpClient
from onecsync.httpclient import Refused
from onecsync.messagefiles import message_stem
from onecsync.messagefiles import open_zip_entry
from onecsync.transport.base import Incoming
from onecsync.transport.base import OutgoingFile
from onecsync.transport.base import remove_quietly
from onecsync.transport.candidates import judge_empty
from onecsync.transport.operations import EXPORT
from onecsync.transport.operations import IMPORT
from onecsync.transport.operations import Operations
from onecsync.transport.spool import Capped
from onecsync.transport.spool import Spool
from onecsync.transport.spool import too_big

SERVICE = "hs/exchange_dsl_1_0_0_1"
MAX_PARTS = 1 << 20  # a message of a terabyte at 1 MiB parts: anything more is a lie
log = logging.getLogger("onecsync")


def _hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return f"sha256:{h.hexdigest()}"


# The calls that name our node: a refusal of one may mean the base does not know it.
_NAMING_OUR_NODE = ("UploadData", "DownloadData")

class _Upload(OutgoingFile):
    """Our message being written as the zip 1C expects; `publish()` delivers it."""

    def __init__(self, transport: HttpTransport, folder: Path, entry: str) -> None:
        self._transport = transport
        super().__init__(folder, entry + ".zip", entry, transport.archive_password())

    def _deliver(self, fp: str) -> None:
        try:
            self._transport.deliver(self.temp, fp)
        finally:
            remove_quietly(self.temp)


class HttpTransport:
    def __init__(self, t: HttpConfig, node_code: str, peer_code: str, exchange_plan: str,
                 spool: Spool, *, sleep: Callable[[float], None] = time.sleep,
                 session=None) -> None:
        root = t.url.rstrip("/")
        if root.endswith("/" + SERVICE):
            root = root[: -len(SERVICE) - 1]
        self.url = root
        self.description = f"the 1C HTTP service at {root}"
        self.client = HttpClient(f"{root}/{SERVICE}", t.user, t.password, what=root,
                                 connect_timeout=t.connect_timeout, read_timeout=t.read_timeout,
                                 ca_file=t.ca_file, sleep=sleep, session=session)
        self.node_code = node_code
        self.plan = exchange_plan
        self.block = t.part_size
        self.wait_timeout = t.wait_timeout
        self.max_message_mib = t.max_message_mib
        self.spool = spool
        self.sleep = sleep
        self.incoming_name = message_stem(peer_code, node_code) + ".zip"
        self.outgoing_entry = message_stem(node_code, peer_code) + ".xml"
        self.ib_parameters: dict | None = None
        self._archive = t.archive_password
        self.operations = Operations(root, self.client, spool, t.wait_timeout, sleep)

    def archive_password(self) -> str | None:
        return self._archive.reveal() if self._archive else None

    # -- the service calls -----------------------------------------------------------------
    def _refused(self, op: str, exc: Refused) -> OnecsyncError:
        if exc.status == 404:
            return ConfigError(f"{self.url}: {op}: HTTP 404: the HTTP service "
                               "exchange_dsl_1_0_0_1 is not published there",
                               remedy="check the URL (the base's publication, e.g. "
                                      "http://host/bp) and that HTTP services are published")
        message = " ".join(exc.message.split())[:400]
        return TemporaryError(f"{self.url}: {op}: the base refused: {message}",
                              remedy="see the base's message; the next run retries")

    def _call(self, method: str, op: str, params: dict, *, safe: bool, schema) -> dict:
        try:
            return self.client.json(method, f"v1/{op}", params=params, safe=safe,
                                    schema=schema, name=op)
        except Refused as exc:
            if op in _NAMING_OUR_NODE:
                raise self._refused_for(op, exc) from None
            raise self._refused(op, exc) from None

    def _exchange_params(self, **extra: Any) -> dict:
        return {"ExchangePlanName": self.plan, "NodeCode": self.node_code, **extra}

    # -- Transport -------------------------------------------------------------------------
    def probe(self, write: bool = True) -> str:
        """The service answers and knows our node (GetIBParameters, as 1C's setup wizard asks).

        Nothing is exported or imported, so `write` changes nothing: it is read-only anyway."""
        try:
            self.client.request("GET", "version", safe=True, name="version")
        except Refused as exc:
            raise self._refused("version", exc) from None
        p = self._call("GET", "GetIBParameters",
                       self._exchange_params(IsXDTOExchangePlan=True), safe=True,
                       schema=answers.IB_PARAMETERS)
        self.ib_parameters = p
        if (unknown := self._unknown(p)) is not None:
            raise unknown
        what = " ".join(str(p[k]) for k in ("InfobaseDescription", "ConfigurationVersion")
                        if p.get(k))
        versions = p.get("ExchangeFormatVersions")
        offers = f"; it offers formats {', '.join(map(str, versions))}" \
            if isinstance(versions, list) and versions else ""
        return f"{self.description}: answers{f' ({what})' if what else ''} and knows our " \
               f"node{offers}"

    def _unknown(self, p: dict) -> ConfigError | None:
        """What GetIBParameters says is wrong in the config: the plan or our node unknown."""
        if p.get("ExchangePlanExists") is False:
            return ConfigError(f"{self.url}: the base has no exchange plan {self.plan}",
                               remedy="check node.exchange_plan")
        if p.get("NodeExists") is False:
            return ConfigError(f"{self.url}: the base has no node with code {self.node_code} in "
                               f"{self.plan}",
                               remedy="set up the synchronization with 'другая программа' in the "
                                      "base, with node.code as its code")
        return None

    def _refused_for(self, op: str, exc: Refused) -> OnecsyncError:
        """A refused export or import: when the base does not know our node (node.code
        mistyped), that is the config's fault (exit 3) on every run, not a passing one."""
        try:
            p = self.client.json("GET", "v1/GetIBParameters",
                                 params=self._exchange_params(IsXDTOExchangePlan=True),
                                 safe=True, schema=answers.IB_PARAMETERS, name="GetIBParameters")
        except (OnecsyncError, Refused):
            p = {}  # it cannot tell: the refusal itself is reported
        return self._unknown(p) or self._refused(op, exc)

    def fetch(self) -> Incoming | None:
        self.spool.clear_temps()
        if (pending := self.operations.pending(EXPORT)) is not None:  # a run before waited
            file_id = pending.get("file_id")
            self.operations.wait(EXPORT, pending["operation_id"], {"file_id": file_id})
        else:
            started = self._call("POST", "UploadData",
                                 self._exchange_params(TimeConsumingOperationAllowed=True),
                                 safe=False, schema=answers.UPLOAD_DATA)
            file_id = started.get("FileID")
            if started.get("TimeConsumingOperation"):
                self.operations.wait(EXPORT, started.get("OperationID"), {"file_id": file_id})
        if not file_id:
            raise TemporaryError(f"{self.url}: UploadData gave no FileID")
        prepared = self._call("POST", "PrepareGetFile",
                              {"FileID": file_id, "BlockSize": self.block}, safe=False,
                              schema=answers.PREPARE_GET_FILE)
        session_id = prepared["SessionID"]
        count = prepared["PartCount"]
        cap = self.max_message_mib << 20
        where = f"{self.url}: PrepareGetFile"
        # The parts are bounded by the cap, not by the count the server claims.
        if 0 <= count <= MAX_PARTS and (count - 1) * self.block * 1024 > cap:
            self._release(session_id)
            raise too_big(where, (count - 1) * self.block * 1024, cap)
        if not 0 <= count <= MAX_PARTS:
            self._release(session_id)
            raise answers.Malformed(f"{self.url}: PrepareGetFile: PartCount is {count}, not "
                                    f"0 to {MAX_PARTS} parts of {self.block} KiB")
        if count == 0:  # the export is done: an empty message is a broken service
            self._release(session_id)
            judge_empty(where, ["PartCount 0"], finished=True)
        final = self.spool.path(self.incoming_name)  # our name for it, always the same
        try:
            out, temp = self.spool.download(cap, where, (count - 1) * self.block * 1024)
        except BaseException:
            self._release(session_id)
            raise
        try:
            with out:
                for n in range(1, count + 1):
                    self._get_part(session_id, n, count, out)
        except BaseException:
            remove_quietly(temp)
            raise
        finally:
            self._release(session_id)
        os.replace(temp, final)
        if not zipfile.is_zipfile(final):
            raise TemporaryError(f"{self.url}: the base's message arrived incomplete or is not "
                                 f"a zip (kept as {final})",
                                 remedy="the next run fetches a new one; if this repeats, look "
                                        "at that file")
        return Incoming(name=str(final), fingerprint=_hash(final),
                        open=lambda: open_zip_entry(final, str(final), self.archive_password()))

    def _get_part(self, session_id: Any, n: int, count: int, out: Capped) -> None:
        try:
            self.client.download("v1/GetFilePart", out,
                                 params={"SessionID": session_id, "PartNumber": n},
                                 exact=self.block * 1024 if n < count else None,
                                 limit=self.block * 1024, name=f"GetFilePart {n} of {count}")
        except Refused as exc:
            raise self._refused(f"GetFilePart {n} of {count}", exc) from None

    def _release(self, session_id: Any) -> None:
        if not session_id:
            return
        try:
            self.client.request("DELETE", "v1/ReleaseFile", params={"SessionID": session_id},
                                safe=True, name="ReleaseFile")
        except (OnecsyncError, Refused) as exc:  # only the base's temporary files are at stake
            log.debug("%s: ReleaseFile failed: %s", self.url, exc)

    def prepare(self) -> _Upload:
        self.spool.clear_temps()
        return _Upload(self, self.spool.ready(), self.outgoing_entry)

    def deliver(self, path: Path, fp: str) -> None:
        """Parts, assembly, import; the receipt only once the base has imported it."""
        session_id = str(uuid.uuid4())
        size = path.stat().st_size
        block = self.block * 1024
        count = max(1, -(-size // block))
        with open(path, "rb") as f:
            for n in range(1, count + 1):
                part = f.read(block)  # one part in memory at a time
                try:
                    self.client.request("POST", "v1/PutFilePart", safe=True, data=part,
                                        params={"SessionID": session_id, "PartNumber": n},
                                        headers={"Content-Type": "application/octet-stream"},
                                        name=f"PutFilePart {n} of {count}")
                except Refused as exc:
                    raise self._refused(f"PutFilePart {n} of {count}", exc) from None
        saved = self._call("POST", "SaveFileFromParts",
                           {"SessionID": session_id, "PartCount": count}, safe=False,
                           schema=answers.SAVE_FILE)
        file_id = saved.get("FileID")
        if not file_id:
            raise TemporaryError(f"{self.url}: SaveFileFromParts gave no FileID")
        started = self._call("POST", "DownloadData",
                             self._exchange_params(FileID=file_id,
                                                   TimeConsumingOperationAllowed=True),
                             safe=False, schema=answers.DOWNLOAD_DATA)
        if started.get("TimeConsumingOperation"):
            self.operations.wait(IMPORT, started.get("OperationID"), {"fingerprint": fp})
        self._imported(fp)

    def _imported(self, fp: str) -> None:
        at = clock.utc_now().isoformat(timespec="seconds")
        self.spool.write_receipt({"fingerprint": fp, "at": at})

    def in_place(self, fp: str | None) -> bool:
        """Did the base import our message with this fingerprint? Its import a run before
        left running is waited for again first (still running: TemporaryError): a new
        message would only start another import."""
        receipt = self.spool.receipt()
        if fp is not None and receipt is not None and receipt.get("fingerprint") == fp:
            return True
        pending = self.operations.pending(IMPORT)
        if fp is None or pending is None or pending.get("fingerprint") != fp:
            return False
        self.operations.wait(IMPORT, pending["operation_id"], {"fingerprint": fp})
        self._imported(fp)
        return True
