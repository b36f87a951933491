"""A local stand-in for Kaggle's API, for driving the real kaggle client in tests.

The client cannot be pointed at an arbitrary host (its TEST environment is
ignored by KaggleApi, which only switches between production and
http://localhost), so tests run it with KAGGLE_API_ENVIRONMENT=LOCALHOST and
HTTP_PROXY naming this server: every request, the file upload included,
arrives here in proxy form. Requests are answered the way Kaggle's
competitions service does for the calls of a submission and for a leaderboard
download (the zip's bytes, as a file download), as its kernels service does
for a push, for a pull of a notebook's code (GetKernel) and for the listing of
its saved version's output files (ListKernelSessionOutput, whose files the
client then fetches with a GET of each file's URL), and as its datasets and
blobs services do for a new dataset.

The kernels answers follow the JSON field names of kagglesdk's
ApiGetKernelResponse (metadata, blob: source, language, kernelType, slug) and
ApiListKernelSessionOutputResponse (files: fileName, url; log; nextPageToken),
as the client parses them (kagglesdk 0.1.x, kaggle 2.x). A notebook that is
private and not shared with the caller answers 403, as Kaggle's permission
check does ("Permission 'kernels.get' was denied"); an unknown one 404.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.helpers import ROOT


@dataclass
class Notebook:
    """A notebook on the stand-in: its code, the files its saved version's run wrote, and
    the status the API answers for it (200, or 403 when not shared, 404)."""

    source: str
    outputs: dict[str, bytes] = field(default_factory=dict)
    log: str = ""
    status: int = 200
    kernel_type: str = "notebook"
    language: str = "python"
    private: bool = True


class KaggleStandIn:
    """Start with `with KaggleStandIn({"cifar10-class"}) as kaggle:`; read what arrived."""

    def __init__(
        self, competitions: set[str], leaderboards: dict[str, bytes] | None = None
    ) -> None:
        self.competitions = competitions
        self.leaderboards = leaderboards or {}  # competition -> the zip DownloadLeaderboard sends
        self.calls: list[tuple[str, str, dict]] = []  # (method name, Authorization, body)
        self.uploads: dict[str, bytes] = {}
        self.submissions: list[dict] = []
        self.kernels: list[dict] = []  # SaveKernel requests (kaggle kernels push)
        self.blob_names: dict[str, str] = {}  # upload token -> file name (StartBlobUpload)
        self.datasets: dict[str, dict] = {}  # "owner/slug" -> CreateDataset request and files
        self.notebooks: dict[str, Notebook] = {}  # "owner/slug" -> what pull and output read
        self.downloads: list[str] = []  # paths of the output files fetched (GET)
        # A GET of this output file waits: `arrived` is set when it comes, and the answer
        # is sent once the test sets `release` (a test interrupts the client meanwhile).
        self.hold: str | None = None
        self.arrived, self.release = threading.Event(), threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> KaggleStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _reply(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _reply_file(self, data: bytes, content_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path = unquote(urlsplit(self.path).path)
                standin.downloads.append(path)
                if standin.hold is not None and path.endswith("/" + standin.hold):
                    standin.arrived.set()
                    standin.release.wait(timeout=60)
                # /kernel-output/<owner>/<slug>/<file name>, as listed by ListKernelSessionOutput
                parts = path.split("/", 4)
                if len(parts) == 5 and parts[1] == "kernel-output":
                    notebook = standin.notebooks.get(f"{parts[2]}/{parts[3]}")
                    if notebook is not None and parts[4] in notebook.outputs:
                        return self._reply_file(
                            notebook.outputs[parts[4]], "application/octet-stream"
                        )
                return self._reply(404, {"code": 404, "message": "No such file"})

            def _notebook(self, request: dict) -> tuple[str, Notebook | None]:
                ref = f"{request.get('userName')}/{request.get('kernelSlug')}"
                notebook = standin.notebooks.get(ref)
                if notebook is None:
                    self._reply(404, {"code": 404, "message": "Notebook not found"})
                elif notebook.status != 200:
                    self._reply(
                        notebook.status,
                        {"code": notebook.status, "message": "Permission 'kernels.get' was denied"},
                    )
                return ref, notebook if notebook is not None and notebook.status == 200 else None

            def do_PUT(self) -> None:
                token = urlsplit(self.path).path.rsplit("/", 1)[-1]
                standin.uploads[token] = self._body()
                self._reply(200, {})

            def do_POST(self) -> None:
                request = json.loads(self._body() or b"{}")
                method = urlsplit(self.path).path.rsplit("/", 1)[-1]
                standin.calls.append((method, self.headers.get("Authorization", ""), request))
                competition = request.get("competitionName")
                if method == "StartSubmissionUpload":
                    if competition not in standin.competitions:
                        return self._reply(404, {"code": 404, "message": "Competition not found"})
                    token = f"blob-{len(standin.uploads) + 1}"
                    return self._reply(
                        200, {"token": token, "createUrl": f"http://localhost/upload/{token}"}
                    )
                if method == "CreateSubmission":
                    if request.get("blobFileTokens") not in standin.uploads:
                        return self._reply(400, {"code": 400, "message": "unknown upload"})
                    standin.submissions.append(request)
                    return self._reply(
                        200, {"message": f"Successfully submitted to {competition}", "ref": 31337}
                    )
                if method == "DownloadLeaderboard":
                    if competition not in standin.leaderboards:
                        return self._reply(404, {"code": 404, "message": "Competition not found"})
                    return self._reply_file(standin.leaderboards[competition], "application/zip")
                if method == "GetDatasetStatus":  # 404: a new dataset may be created
                    ref = f"{request.get('ownerSlug')}/{request.get('datasetSlug')}"
                    if ref not in standin.datasets:
                        return self._reply(404, {"code": 404, "message": "Dataset not found"})
                    return self._reply(200, {"status": "ready"})
                if method == "StartBlobUpload":
                    token = f"blob-{len(standin.blob_names) + 1}"
                    standin.blob_names[token] = request.get("name", "")
                    return self._reply(
                        200, {"token": token, "createUrl": f"http://localhost/upload/{token}"}
                    )
                if method == "CreateDataset":
                    ref = f"{request.get('ownerSlug')}/{request.get('slug')}"
                    tokens = [f.get("token") for f in request.get("files", [])]
                    if any(token not in standin.uploads for token in tokens):
                        return self._reply(400, {"code": 400, "message": "unknown upload"})
                    files = {standin.blob_names[t]: standin.uploads[t] for t in tokens}
                    standin.datasets[ref] = {"request": request, "files": files}
                    return self._reply(
                        200,
                        {"ref": ref, "url": f"http://localhost/datasets/{ref}", "status": "ok"},
                    )
                if method == "GetKernel":
                    ref, notebook = self._notebook(request)
                    if notebook is None:
                        return None
                    slug = ref.split("/")[1]
                    return self._reply(
                        200,
                        {
                            "metadata": {
                                "id": 1000 + len(standin.notebooks),
                                "ref": ref,
                                "title": slug.replace("-", " ").title(),
                                "slug": slug,
                                "author": ref.split("/")[0],
                                "language": notebook.language,
                                "kernelType": notebook.kernel_type,
                                "isPrivate": notebook.private,
                                "enableGpu": True,
                                "enableInternet": True,
                            },
                            "blob": {
                                "source": notebook.source,
                                "language": notebook.language,
                                "kernelType": notebook.kernel_type,
                                "slug": slug,
                            },
                        },
                    )
                if method == "ListKernelSessionOutput":
                    ref, notebook = self._notebook(request)
                    if notebook is None:
                        return None
                    files = [
                        {"fileName": name, "url": f"http://localhost/kernel-output/{ref}/{name}"}
                        for name in notebook.outputs
                    ]
                    return self._reply(200, {"files": files, "log": notebook.log})
                if method == "SaveKernel":
                    standin.kernels.append(request)
                    return self._reply(
                        200,
                        {
                            "ref": f"/code/{request.get('slug')}",
                            "url": "http://localhost/code/x",
                            "versionNumber": 1,
                        },
                    )
                return self._reply(404, {"code": 404, "message": f"no such method {method}"})

        return Handler


def client_env(home: Path, proxy: str, credentials: bool = True) -> dict[str, str]:
    """The environment of a student's shell, with Kaggle reached through the stand-in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KAGGLE_")
        and k.lower() not in ("no_proxy", "http_proxy", "https_proxy")
    }
    config = home / ".kaggle"
    config.mkdir(parents=True, exist_ok=True)
    if credentials:
        (config / "kaggle.json").write_text(json.dumps({"username": "student", "key": "abc"}))
        (config / "kaggle.json").chmod(0o600)
    return {
        **env,
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "KAGGLE_API_ENVIRONMENT": "LOCALHOST",
        "HTTP_PROXY": proxy,
        "http_proxy": proxy,
    }
