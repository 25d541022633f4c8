"""A real nginx (Debian's) on loopback in front of a media directory, asking the gate."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.loopback import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# The media part of docs/nginx.md, with our test paths. Keep the two in step.
CONFIG = """
{user}
worker_processes 1;
daemon off;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {run}/body;
  proxy_temp_path {run}/proxy;
  fastcgi_temp_path {run}/fastcgi;
  uwsgi_temp_path {run}/uwsgi;
  scgi_temp_path {run}/scgi;
  upstream consentry_gate {{ server 127.0.0.1:{gate_port}; keepalive 16; }}
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location /system/ {{
      auth_request /_consentry_gate;
      auth_request_set $consentry_status $upstream_http_x_consentry_status;
      error_page 403 = @consentry_refused;
    }}
    location = /_consentry_gate {{
      internal;
      proxy_pass http://consentry_gate/gate;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
    location @consentry_refused {{
      if ($consentry_status = "451") {{ return 451; }}
      return 403;
    }}
  }}
}}
"""





class Nginx:
    def __init__(self, run_dir: Path, root: Path, gate_port: int) -> None:
        self.run_dir, self.port = run_dir, free_port()
        run_dir.mkdir(parents=True, exist_ok=True)
        self.conf = run_dir / "nginx.conf"
        user = "user root;" if os.geteuid() == 0 else ""
        self.conf.write_text(CONFIG.format(user=user, run=run_dir, gate_port=gate_port,
                                           port=self.port, root=root))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Nginx:
        self.proc = subprocess.Popen([NGINX, "-c", str(self.conf), "-p", str(self.run_dir),
                                      "-e", str(self.run_dir / "error.log")])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError((self.run_dir / "error.log").read_text()) from None
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def __exit__(self, *exc: object) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
