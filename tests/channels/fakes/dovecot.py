"""A real Dovecot IMAP server for tests: a throw-away config, one passwd-file user, Maildir storage,
plaintext login on 127.0.0.1 at a free port, run as `dovecot -F -c <conf>` in its own process group.

Needs Debian's `dovecot-imapd` (apt-get install -y dovecot-imapd); tests skip when the binary is
missing. Dovecot will not run mail processes as root: when the tests run as root, the server runs
as `nobody` in a private temporary directory that user owns (pytest's tmp_path is not reachable
for it); otherwise everything lives under tmp_path.
"""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aioimaplib
import pytest

USER = "owner@example.com"
PASSWORD = "correct horse battery staple"
CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
first_valid_uid = 1
{capability}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
"""


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or next((p for p in ("/usr/sbin/dovecot",) if os.path.exists(p)), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Dovecot:
    root: Path
    binary: str
    port: int = field(default_factory=free_port)
    without_idle: bool = False
    process: subprocess.Popen[bytes] | None = None
    private_root: bool = False  # a temporary directory of our own, removed in cleanup

    @property
    def account(self) -> pwd.struct_passwd:
        return pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.getuid())

    def _write_config(self) -> Path:
        account = self.account
        capability = "imap_capability = IMAP4rev1 LITERAL+ UIDPLUS" if self.without_idle else ""
        text = CONFIG.format(root=self.root, port=self.port, user=account.pw_name, uid=account.pw_uid,
                             gid=account.pw_gid, group=grp.getgrgid(account.pw_gid).gr_name, capability=capability)
        (self.root / "dovecot.conf").write_text(text)
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        self._own(self.root)
        return self.root / "dovecot.conf"

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            for item in [path, *path.rglob("*")]:
                os.chown(item, self.account.pw_uid, self.account.pw_gid)

    def start(self) -> None:
        config = self._write_config()
        account = self.account
        as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []} if os.geteuid() == 0 else {}
        self.process = subprocess.Popen([self.binary, "-F", "-c", str(config)], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                                        **as_user)

    async def wait_ready(self, timeout: float = 15.0) -> None:
        """Until the server greets on its port (a process start, so this polls the socket)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self._diagnostics()}")
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                greeting = await asyncio.wait_for(reader.readline(), 5)
                writer.close()
                if greeting.startswith(b"* OK"):
                    return
            except OSError:
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self._diagnostics()}")

    def _diagnostics(self) -> str:
        log = self.root / "dovecot.log"
        stderr = self.process.stderr.read().decode() if self.process and self.process.stderr and \
            self.process.poll() is not None else ""
        return stderr + (log.read_text()[-2000:] if log.exists() else "")

    def stop(self) -> None:
        """SIGTERM to the server's process group: the master takes its children down with it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        if self.private_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- mail -----------------------------------------------------------------------------------

    def maildir(self, mailbox: str = "INBOX") -> Path:
        base = self.root / "mail" / USER
        return base if mailbox == "INBOX" else base / f".{mailbox}"

    def deliver_file(self, data: bytes, mailbox: str = "INBOX") -> Path:
        """Deliver as an MDA does: write into tmp/, then rename into new/."""
        box = self.maildir(mailbox)
        for sub in ("tmp", "new", "cur"):
            (box / sub).mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}.P{os.getpid()}.replydesk-test"
        (box / "tmp" / name).write_bytes(data)
        self._own(self.root / "mail")
        os.rename(box / "tmp" / name, box / "new" / name)
        return box / "new" / name

    async def client(self) -> aioimaplib.IMAP4:
        imap = aioimaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        await imap.wait_hello_from_server()
        assert (await imap.login(USER, PASSWORD)).result == "OK"
        return imap

    async def append(self, data: bytes, mailbox: str = "INBOX", date: datetime | None = None) -> int:
        """IMAP APPEND; returns the new message's UID (APPENDUID)."""
        imap = await self.client()
        try:
            response = await imap.append(data, mailbox=mailbox, date=date)
            assert response.result == "OK", response
            found = re.search(rb"APPENDUID \d+ (\d+)", b" ".join(bytes(line) for line in response.lines))
            assert found, response
            return int(found.group(1))
        finally:
            await imap.logout()

    async def command(self, name: str, *args: str) -> None:
        imap = await self.client()
        try:
            method = getattr(imap, name)
            response = await method(*args)
            assert response.result == "OK", response
        finally:
            await imap.logout()

    async def uidvalidity(self, mailbox: str = "INBOX") -> int:
        imap = await self.client()
        try:
            response = await imap.status(mailbox, "(UIDVALIDITY)")
            return int(re.search(rb"UIDVALIDITY (\d+)", bytes(response.lines[0])).group(1))  # type: ignore[union-attr]
        finally:
            await imap.logout()


def make_dovecot(tmp_path: Path, without_idle: bool = False) -> Dovecot:
    binary = dovecot_binary()
    if binary is None:
        pytest.skip("dovecot is not installed (apt-get install -y dovecot-imapd)")
    if os.geteuid() == 0:
        root = Path(tempfile.mkdtemp(prefix="replydesk-dovecot-"))
        return Dovecot(root, binary, without_idle=without_idle, private_root=True)
    root = tmp_path / "dovecot"
    root.mkdir()
    return Dovecot(root, binary, without_idle=without_idle)
