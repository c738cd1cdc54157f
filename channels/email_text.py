"""Pure text helpers for email: charset decoding, HTML to text, quoted history, subjects.

The brain sees only what the sender newly wrote: "On … wrote:" blocks, "> " lines and Outlook
"From: … Sent: …" blocks are cut (multilingual header detection by mail-parser-reply). A forwarded
message is kept whole, because the forwarded text is the substance.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

# Mail declares latin-1 or ascii and is really windows-1252 often enough that browsers decode it so.
_CHARSET_ALIASES = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252",
                    "ascii": "cp1252", "ks_c_5601-1987": "cp949", "gb2312": "gb18030", "gbk": "gb18030",
                    "iso-8859-8-i": "iso-8859-8", "x-sjis": "shift_jis", "utf8": "utf-8"}
_REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "sv", "da", "pl", "cs", "ja", "ko", "zh"]
_REPLY_PARSER = EmailReplyParser(languages=_REPLY_LANGUAGES)
_REPLY_PREFIX = r"(?:re|aw|sv|vs|antw|antwort|odp|rif|r|ynt|tr|wg|fwd?|fw|enc|doorst)"
_PREFIXES = re.compile(rf"^\s*(?:(?:{_REPLY_PREFIX})\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+", re.IGNORECASE)
_IS_REPLY = re.compile(r"^\s*(?:re|aw|sv|vs|antw|odp|rif|r|ynt)\s*(?:\[\d+\])?\s*[:：]", re.IGNORECASE)
_IS_FORWARD = re.compile(r"^\s*(?:fwd?|fw|wg|tr|enc|doorst)\s*[:：]", re.IGNORECASE)
_FORWARD_MARKERS = re.compile(
    r"^[>\s]*(?:-{2,}\s*(?:Forwarded message|Forwarded Message|Weitergeleitete Nachricht|Message transféré|"
    r"Mensaje reenviado|Messaggio inoltrato|Doorgestuurd bericht|Vidarebefordrat meddelande)\s*-{2,}|"
    r"Begin forwarded message:|Anfang der weitergeleiteten Nachricht:|Début du message réexpédié :?)\s*$",
    re.IGNORECASE | re.MULTILINE)


def clean_text(value: str) -> str:
    """Text the databases accept: raw 8-bit header bytes (kept by the parser as surrogates) decoded
    as UTF-8, else windows-1252; NUL characters (PostgreSQL refuses them) removed."""
    try:
        value = value.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeDecodeError:
        value = value.encode("utf-8", "surrogateescape").decode("cp1252", "replace")
    return value.replace("\x00", "")


def decode_bytes(payload: bytes, charset: str | None) -> str:
    """Decode a body in its declared charset; unknown or wrong declarations never raise."""
    declared = (charset or "").strip().strip('"').lower()
    if declared in ("", "us-ascii", "ascii"):
        try:
            return payload.decode("utf-8")  # undeclared 8-bit text is utf-8 more often than not
        except UnicodeDecodeError:
            pass
    codec = _CHARSET_ALIASES.get(declared, declared or "utf-8")
    for candidate, errors in ((codec, "strict"), ("utf-8", "strict"), ("cp1252", "strict"), ("latin-1", "strict")):
        try:
            return payload.decode(candidate, errors)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", "replace")  # not reached: latin-1 decodes any byte


class _TextExtractor(HTMLParser):
    """Visible text of an HTML body; a <blockquote> becomes "> " lines so quotes can be cut."""

    _SKIP = {"script", "style", "head", "title", "template", "noscript"}
    _PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "pre", "hr"}
    _LINE = {"br", "div", "tr", "li", "section", "article", "header", "footer", "dt", "dd"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._skip = self._quote = self._pre = 0
        self._line_start = True
        self._breaks = 0
        self._href: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "blockquote":
            self._break(2)
            self._quote += 1
        elif tag in self._PARAGRAPH or tag in self._LINE:
            self._break(2 if tag in self._PARAGRAPH else 1)
            self._pre += tag == "pre"
            if tag == "li":
                self._write("- ")
        elif tag == "a":
            self._href.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "blockquote":
            self._quote = max(0, self._quote - 1)
            self._break(2)
        elif tag in self._PARAGRAPH or tag in self._LINE:
            self._pre = max(0, self._pre - (tag == "pre"))
            self._break(2 if tag in self._PARAGRAPH else 1)
        elif tag == "a" and self._href:
            href = self._href.pop()
            if href.startswith(("http://", "https://")) and self._out[-1:] != [href]:
                self._write(f" <{href}>")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            for number, line in enumerate(data.split("\n")):
                if number:
                    self._break(1)
                self._write(line, keep_space=True)
            return
        self._write(re.sub(r"\s+", " ", data))

    def _write(self, text: str, keep_space: bool = False) -> None:
        if self._line_start:
            text = text if keep_space else text.lstrip()
            if not text:
                return
            if self._out:
                self._out.append("\n" * self._breaks)
            self._out.append("> " * self._quote)
            self._line_start, self._breaks = False, 0
        self._out.append(text)

    def _break(self, count: int) -> None:
        """Line breaks are owed, not written: consecutive blocks never stack blank lines."""
        self._breaks = max(self._breaks, count) if self._line_start else count
        self._line_start = True

    def text(self) -> str:
        lines = [line.rstrip() for line in "".join(self._out).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup; keep what it read
        pass
    return extractor.text()


def _tidy(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.split("\n"))).strip()


def strip_quoted(text: str) -> str:
    """The newest reply without the quoted history; the whole text when nothing new is left."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return ""
    latest = _REPLY_PARSER.parse_reply(text) or ""
    kept = [line for line in latest.split("\n") if not line.lstrip().startswith(">")]
    return _tidy("\n".join(kept)) or _tidy(text)


def _unquote_once(block: str) -> str:
    return "\n".join(re.sub(r"^ ?> ?", "", line) for line in block.split("\n"))


def split_forward(text: str) -> tuple[str, str] | None:
    """(the sender's note, the forwarded block) when the text carries a forward marker."""
    match = _FORWARD_MARKERS.search(text.replace("\r\n", "\n"))
    if match is None:
        return None
    normalised = text.replace("\r\n", "\n")
    return normalised[:match.start()], _unquote_once(normalised[match.end():])


def new_text(text: str, subject: str = "") -> tuple[str, bool]:
    """What the brain reads, and whether the message is a forward."""
    parts = split_forward(text)
    if parts is None and is_forward_subject(subject):
        forwarded = _tidy(text)
        return forwarded, True
    if parts is None:
        return strip_quoted(text), False
    note, forwarded = parts
    note_text = strip_quoted(note) if note.strip() else ""
    body = "Forwarded message:\n" + _tidy(forwarded)
    return (f"{note_text}\n\n{body}" if note_text else body), True


def normalize_subject(subject: str) -> str:
    """The subject without Re:/Fwd:/AW:/SV:/WG: prefixes (repeated, any case, with [n] counters)."""
    return re.sub(r"\s+", " ", _PREFIXES.sub("", subject or "")).strip()


def is_reply_subject(subject: str) -> bool:
    return bool(_IS_REPLY.match(subject or ""))


def is_forward_subject(subject: str) -> bool:
    return bool(_IS_FORWARD.match(subject or ""))


def reply_subject(subject: str) -> str:
    """"Re: <subject>" with any earlier reply prefixes folded into one."""
    base = subject or ""
    while is_reply_subject(base):
        base = re.sub(r"^\s*[^:：]+[:：]\s*", "", base, count=1)
    return f"Re: {base.strip()}" if base.strip() else "Re:"


def text_to_html(text: str) -> str:
    """A minimal HTML rendering of plain text: escaped, paragraphs and line breaks kept."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    body = "".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return f"<!DOCTYPE html><html><body>{body}</body></html>"
