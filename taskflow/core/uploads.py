"""Upload validation for evidence files: size, name, and type by extension AND by content.

    upload = validate_upload(request.files["evidence"])      # limits from app.config
    blob = storage.store(upload, session=db.session)          # see taskflow.core.storage

Everything a user can get wrong raises UploadRejected(code, message); `message` is a lazy,
translated sentence ready for flash() or a form error. Nothing here trusts the client: the size
is counted while streaming (not taken from Content-Length), the type is sniffed from the bytes
and must agree with the extension, archives are opened and every entry is checked (count,
real uncompressed size, ratio, names, encryption, executables, macros, nested archives).

Active content is refused, not stored with a warning: PDF scripts, automatic, launch and
embedded-file actions; spreadsheet formulas that call out (HYPERLINK, WEBSERVICE, CALL, …) or
DDE; external workbook links; relationships to UNC or file paths and remote templates; Word DDE
fields. A reviewer's desktop would run them on opening (a UNC link alone leaks the reviewer's
Windows credentials), a badge next to a download link stops no click, and evidence needs none
of it: the unit prints the PDF again or pastes the values and uploads that. Every file is served
as an attachment with nosniff; only PDFs (drawn by pdf.js) and PNG/JPEG images are also shown
inline (INLINE_KINDS), with the type sniffed here and checked again against the stored bytes
(inline_kind), nosniff and a sandboxing Content-Security-Policy.
"""

from __future__ import annotations

import hashlib
import io
import re
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile
from typing import IO, Any

from flask import current_app, has_app_context, has_request_context
from flask_babel import force_locale, lazy_gettext as _l

from config import Config

CHUNK = 64 * 1024
SPOOL_IN_MEMORY = 1024 * 1024  # uploads up to 1 MiB stay in memory, larger ones go to a temp file
MAX_NAME_LENGTH = 200  # characters of the display name (Evidence.original_name is 255)
MAX_ZIP_RATIO = 200  # an entry that inflates more than this (and by > 1 MiB) is a bomb
MAX_ZIP_DEPTH = 3  # a zip inside a docx inside a zip is fine; deeper is refused
PE_MARKERS = (b"This program cannot be run in DOS mode", b"This program must be run under Win32")

# Extensions a user may upload, and the content kinds each accepts.
DEFAULT_TYPES = frozenset({"pdf", "jpg", "jpeg", "png", "doc", "docx", "xls", "xlsx", "ofd", "zip"})
ACCEPTED_CONTENT = {
    "pdf": {"pdf"},
    "jpg": {"jpeg"},
    "jpeg": {"jpeg"},
    "png": {"png"},
    "doc": {"doc"},
    "xls": {"xls"},
    "docx": {"docx"},
    "xlsx": {"xlsx"},
    "ofd": {"ofd"},
    "zip": {"zip", "docx", "xlsx", "ofd"},
}
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ofd": "application/ofd",
    "zip": "application/zip",
}
KIND_LABELS = {
    "pdf": _l("a PDF document"),
    "jpeg": _l("a JPEG image"),
    "png": _l("a PNG image"),
    "doc": _l("a Word 97-2003 document"),
    "xls": _l("an Excel 97-2003 workbook"),
    "docx": _l("a Word document"),
    "xlsx": _l("an Excel workbook"),
    "ofd": _l("an OFD document"),
    "zip": _l("a ZIP archive"),
    "ole2": _l("an Office 97-2003 file"),
    "exe": _l("a Windows program"),
    "elf": _l("a Linux program"),
    "macho": _l("a macOS program"),
    "java": _l("a Java program"),
    "script": _l("a script"),
    "html": _l("a web page"),
    "rar": _l("a RAR archive"),
    "7z": _l("a 7-Zip archive"),
    "gzip": _l("a gzip archive"),
    "gif": _l("a GIF image"),
    "unknown": _l("an unrecognised format"),
}
# Content kinds a browser may show inline (a PDF through the pdf.js viewer, images as they are);
# everything else is only ever an attachment. The kind is the one sniffed at upload and stored on
# the row, and the stored bytes' magic must still say so when the file is served (inline_kind).
INLINE_KINDS = {"pdf": "pdf", "png": "image", "jpeg": "image"}
DANGEROUS_KINDS = {"exe", "elf", "macho", "java", "script", "html"}
# Entries inside an archive that would run on a Windows or Linux desktop when opened.
EXECUTABLE_EXTENSIONS = frozenset({
    "exe", "dll", "com", "scr", "pif", "cpl", "msi", "msp", "msc", "bat", "cmd", "ps1", "psm1",
    "vbs", "vbe", "js", "jse", "wsf", "wsh", "hta", "lnk", "reg", "jar", "sh", "bash", "run",
    "elf", "app", "apk", "deb", "rpm", "inf", "sys", "drv", "ocx", "gadget", "application",
    "appref-ms", "docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppam", "sldm",
})
UNINSPECTABLE_ARCHIVES = {"rar", "7z", "gzip"}
WINDOWS_RESERVED = re.compile(r'[<>:"|?*]')
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
OLE2_STREAMS = {
    "doc": ("WordDocument".encode("utf-16-le"),),
    "xls": ("Workbook".encode("utf-16-le"), "Book\x00".encode("utf-16-le")),
}


class UploadRejected(Exception):
    """An upload refused with a reason: `code` for programs, `message` (translated) for people."""

    def __init__(self, code: str, message: Any, filename: str = ""):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.filename = filename  # the safe display name of the refused file, when known

    def __str__(self) -> str:
        if has_app_context() and not has_request_context():
            # A CLI or job: no session to pick a language from, so use the default locale.
            with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
                return str(self.message)
        return str(self.message)


@dataclass
class ValidatedUpload:
    """An upload that passed every check; `file` is rewound and ready for storage.store()."""

    original_name: str  # what the client sent, control characters removed; logs only
    safe_display_name: str  # base name only, Chinese kept: show it and use it for downloads
    extension: str  # lower case, no dot ("pdf", "jpg", ...)
    detected_type: str  # the content kind: pdf jpeg png doc xls docx xlsx ofd zip
    size: int  # bytes, counted while reading
    sha256: str  # hex digest of the content
    file: IO[bytes] = field(repr=False)  # a SpooledTemporaryFile positioned at 0

    @property
    def content_type(self) -> str:
        """The MIME type to serve the file with (from the detected content, not the client)."""
        return CONTENT_TYPES[self.detected_type]

    def read_bytes(self) -> bytes:
        """The whole content (for small files and tests); leaves the file rewound."""
        self.file.seek(0)
        data = self.file.read()
        self.file.seek(0)
        return data

    def close(self) -> None:
        """Release the temp file."""
        self.file.close()

    def __enter__(self) -> ValidatedUpload:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------- names


def safe_display_name(raw: str | None) -> str:
    """The base name of a client-given file name: no directories, control or bidi characters,
    Windows-reserved punctuation replaced, Chinese kept, at most MAX_NAME_LENGTH characters."""
    name = unicodedata.normalize("NFC", raw or "")
    # Unicode control (Cc), format (Cf: bidi overrides, zero-width) and line/paragraph separators.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp"})
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = WINDOWS_RESERVED.sub("_", name)
    name = name.strip().strip(".").strip()
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_NAME_LENGTH - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_NAME_LENGTH]
    return name


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


# ---------------------------------------------------------------- content sniffing


def sniff(head: bytes) -> str:
    """The kind of content from its first bytes (see KIND_LABELS)."""
    if head.startswith(b"MZ"):
        return "exe"
    if head.startswith(b"\x7fELF"):
        return "elf"
    if head[:4] in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
                    b"\xcf\xfa\xed\xfe"):
        return "macho"
    if head.startswith(b"\xca\xfe\xba\xbe"):
        return "java"  # also Mach-O fat binaries
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(OLE2_MAGIC):
        return "ole2"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    text = head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n").replace(b"\x00", b"")[:512].lower()
    if text.startswith((b"#!", b"<?php", b"@echo", b"<%")):
        return "script"
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<svg",
                        b"<iframe", b"<?xml", b"<!--")):
        return "html"
    return "unknown"


def inline_kind(detected_type: str, head: bytes) -> str | None:
    """"pdf" or "image" when a stored file of `detected_type` (sniffed at upload) may be shown
    inline and its first bytes `head` still sniff as that type; None otherwise (download only)."""
    if detected_type not in INLINE_KINDS or sniff(head) != detected_type:
        return None
    return INLINE_KINDS[detected_type]


def _mismatch(ext: str, kind: str) -> UploadRejected:
    expected = {"jpg": "jpeg"}.get(ext, ext)
    if kind in DANGEROUS_KINDS:
        return UploadRejected("dangerous", _l(
            "“.%(ext)s” file refused: its content is %(kind)s, not %(expected)s.",
            ext=ext, kind=KIND_LABELS[kind], expected=KIND_LABELS.get(expected, expected)))
    return UploadRejected("mismatch", _l(
        "“.%(ext)s” file refused: its content is %(kind)s, not %(expected)s.",
        ext=ext, kind=KIND_LABELS.get(kind, KIND_LABELS["unknown"]),
        expected=KIND_LABELS.get(expected, expected)))


def _scan(file: IO[bytes], needles: tuple[bytes, ...]) -> set[bytes]:
    """Which of the needles occur anywhere in the file (streamed, chunk borders covered)."""
    found: set[bytes] = set()
    overlap = max(len(n) for n in needles) - 1
    file.seek(0)
    tail = b""
    while chunk := file.read(CHUNK):
        window = tail + chunk
        found.update(n for n in needles if n in window)
        tail = window[-overlap:]
    file.seek(0)
    return found


def _is_zip_polyglot(file: IO[bytes]) -> bool:
    """True when a non-zip file also reads as a zip archive (a zip appended to a PDF or image)."""
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            return bool(archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False
    finally:
        file.seek(0)


def _check_plain(file: IO[bytes], size: int, ext: str, kind: str) -> str:
    """PDF, JPEG, PNG, DOC, XLS: structure, polyglots and embedded programs. Returns the type."""
    file.seek(0)
    head = file.read(64)
    if kind == "pdf":
        file.seek(max(0, size - 1024))
        if b"%%EOF" not in file.read():
            raise UploadRejected("corrupt", _l(
                "The PDF file is damaged or has data appended after its end."))
    elif kind == "png":
        if head[12:16] != b"IHDR":
            raise UploadRejected("corrupt", _l("The PNG image is damaged."))
    elif kind == "ole2":
        if size < 1024 or head[28:30] != b"\xfe\xff":
            raise UploadRejected("corrupt", _l("The Office file is damaged."))
        found = _scan(file, OLE2_STREAMS["doc"] + OLE2_STREAMS["xls"])
        is_doc = bool(found & set(OLE2_STREAMS["doc"]))
        is_xls = bool(found & set(OLE2_STREAMS["xls"]))
        if ext == "doc" and is_doc:
            kind = "doc"
        elif ext == "xls" and is_xls:
            kind = "xls"
        else:
            raise _mismatch(ext, "xls" if is_xls else "doc" if is_doc else "ole2")
    if _is_zip_polyglot(file):
        raise UploadRejected("polyglot", _l(
            "The file is also a ZIP archive in disguise (a polyglot file) and is refused."))
    if _scan(file, PE_MARKERS):
        raise UploadRejected("polyglot", _l(
            "The file contains an embedded Windows program and is refused."))
    if kind == "pdf":
        scanner = PdfActiveScanner()
        file.seek(0)
        while chunk := file.read(CHUNK):
            scanner.feed(chunk)
        scanner.finish()
        file.seek(0)
    return kind


# ---------------------------------------------------------------- active content
#
# Documents that act when a reviewer opens them are refused, not stored with a warning: a
# reviewer's desktop (WPS/Office/a PDF reader on Windows) would run the script, follow the link
# to a UNC share (leaking the reviewer's Windows credentials) or start the program, and a badge
# next to a download link does not stop a click. Evidence needs none of it: the unit prints the
# PDF again or pastes the values, and uploads that. The scan is streamed with a small overlap
# between chunks, so its memory is bounded whatever the size of the part.

# PDF names of actions that run on opening or on an event, scripts, launches and attachments.
PDF_ACTIVE_NAMES = {
    b"JavaScript": "JavaScript", b"JS": "JavaScript", b"OpenAction": "OpenAction",
    b"AA": "automatic actions (AA)", b"Launch": "Launch", b"EmbeddedFile": "EmbeddedFile",
    b"EmbeddedFiles": "EmbeddedFile", b"RichMedia": "RichMedia", b"XFA": "XFA",
}
# A PDF name token: "/" then regular characters (PDF 32000 7.3.5; "#xx" is a hex escape).
PDF_NAME = re.compile(rb"/([^\x00\t\n\x0c\r ()<>\[\]{}/%]{1,127})")
PDF_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
# Longest construct a pattern must see whole: a formula of Excel's 8,192 characters, every one
# XML-escaped (&quot; is six bytes), fits.
SCAN_OVERLAP = 64 * 1024
# Spreadsheet formulas (<f> cells and defined names) that call out or run programs.
XLSX_FORMULA = re.compile(
    rb"<(?:[\w-]+:)?(?:f|definedname)\b[^>]{0,2000}>([^<]{0,60000})<", re.IGNORECASE)
XLSX_ACTIVE_FUNCTIONS = re.compile(
    rb"(?<![\w.])(?:_xlfn\.)?(hyperlink|webservice|filterxml|call|register|register\.id|exec|"
    rb"rtd)\s*\(", re.IGNORECASE)
# A DDE reference in a formula: application|topic!item, e.g. cmd|' /c calc'!A0.
XLSX_DDE = re.compile(rb"[\w.]+\s*\|\s*(?:'|&apos;|&quot;|\")?[^<]{0,4096}!", re.IGNORECASE)
# Word fields that pull data or run programs: DDE / DDEAUTO (in instrText or fldSimple).
DOCX_DDE = re.compile(rb"(?:instrtext[^>]{0,200}>|instr=[\"'])\s*(?:dde|ddeauto)\b",
                      re.IGNORECASE)
RELATIONSHIP = re.compile(rb"<(?:[\w-]+:)?relationship\b[^>]{0,4096}>", re.IGNORECASE)
REL_TARGET = re.compile(rb"\btarget\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)
REL_TYPE = re.compile(rb"\btype\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)
# External relationships that fetch or run something when the document opens (remote
# templates, linked OLE objects, external workbooks, frames); plain hyperlinks are fine.
ACTIVE_REL_TYPES = ("/attachedtemplate", "/oleobject", "/externallinkpath", "/externallink",
                    "/frame", "/subdocument", "/package")


def _active_rejection(what: str, document: str) -> UploadRejected:
    if document == "pdf":
        return UploadRejected("active_content", _l(
            "The PDF contains active content (%(what)s) that runs when it is opened, and is "
            "refused. Print it to a new PDF (or save it as PDF/A) and upload that.", what=what))
    return UploadRejected("active_content", _l(
        "The document contains %(what)s, which can contact other computers or run programs "
        "when it is opened, and is refused. Remove it (for example, paste the values only) "
        "and upload the file again.", what=what))


class _ChunkScanner:
    """Feed a part chunk by chunk; check() sees each window with SCAN_OVERLAP of the last one."""

    overlap = SCAN_OVERLAP

    def __init__(self):
        self._tail = b""

    def feed(self, chunk: bytes, final: bool = False) -> None:
        window = self._tail + chunk
        self.check(window, final)
        self._tail = window[-self.overlap:]

    def finish(self) -> None:
        self.feed(b"", final=True)

    def check(self, window: bytes, final: bool) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


PDF_STREAM_START = re.compile(rb">>\s*stream\r?\n")
PDF_STREAM_END = b"endstream"


class PdfActiveScanner:
    """Refuses PDF names of scripts, automatic and launch actions and embedded files, also
    written with hex escapes (/J#61vaScript).

    Stream data (images, page content, fonts) is skipped: in megabytes of compressed bytes a
    sequence like "/JS " occurs by chance and would refuse an honest scan. Names live in the
    dictionaries between streams, where this scan looks. Known limit: a PDF 1.5+ object stream
    can carry dictionaries, the catalog included, in compressed form; they are not inflated.
    """

    overlap = 256  # longer than any name looked for, even fully hex-escaped

    def __init__(self):
        self._buffer = b""
        self._in_stream = False

    def feed(self, chunk: bytes, final: bool = False) -> None:
        data = self._buffer + chunk
        pos = 0
        while True:
            if self._in_stream:
                end = data.find(PDF_STREAM_END, pos)
                if end < 0:  # keep enough to find "endstream" cut by the chunk border
                    self._buffer = b"" if final else data[max(pos, len(data) - 8):]
                    return
                self._in_stream = False
                pos = end + len(PDF_STREAM_END)
                continue
            start = PDF_STREAM_START.search(data, pos)
            if start is None:
                self._check_names(data, pos, len(data), final)
                self._buffer = b"" if final else data[max(pos, len(data) - self.overlap):]
                return
            self._check_names(data, pos, start.start(), True)
            self._in_stream = True
            pos = start.end()

    def finish(self) -> None:
        self.feed(b"", final=True)

    @staticmethod
    def _check_names(data: bytes, start: int, end: int, final: bool) -> None:
        for match in PDF_NAME.finditer(data, start, end):
            if match.end() == end and not final:
                continue  # the name may go on in the next chunk (/JS vs /JSFoo)
            raw = match.group(1)
            name = raw if b"#" not in raw else PDF_HEX_ESCAPE.sub(
                lambda m: bytes([int(m.group(1), 16)]), raw)
            if name in PDF_ACTIVE_NAMES:
                raise _active_rejection("/" + PDF_ACTIVE_NAMES[name], "pdf")


class OoxmlActiveScanner(_ChunkScanner):
    """Refuses DDE and calling formulas in spreadsheet parts, DDE fields in Word parts, and
    external relationships to UNC/file paths or of fetching kinds (see ACTIVE_REL_TYPES)."""

    def __init__(self, part_name: str):
        super().__init__()
        lowered = part_name.lower()
        self.relationships = lowered.endswith(".rels")
        self.sheet = lowered.startswith("xl/") and not self.relationships
        self.word = lowered.startswith("word/") and not self.relationships

    def check(self, window: bytes, final: bool) -> None:
        if self.relationships:
            for match in RELATIONSHIP.finditer(window):
                self._check_relationship(match.group(0))
        if self.sheet:
            for match in XLSX_FORMULA.finditer(window):
                formula = match.group(1)
                called = XLSX_ACTIVE_FUNCTIONS.search(formula)
                if called:
                    raise _active_rejection(
                        _l("a formula calling %(name)s", name=called.group(1).decode().upper()),
                        "xlsx")
                if XLSX_DDE.search(formula):
                    raise _active_rejection(_l("a DDE formula"), "xlsx")
        if self.word and DOCX_DDE.search(window):
            raise _active_rejection(_l("a DDE field"), "docx")

    @staticmethod
    def _check_relationship(element: bytes) -> None:
        lowered = element.lower()
        if b"targetmode" not in lowered or b"external" not in lowered:
            return
        target_match = REL_TARGET.search(element)
        target = target_match.group(1).strip().lower() if target_match else b""
        type_match = REL_TYPE.search(element)
        rel_type = type_match.group(1).lower() if type_match else b""
        if (target.startswith((b"\\\\", b"//", b"file:", b"smb:", b"\\")) or
                re.match(rb"^[a-z]:[\\/]", target)):
            raise _active_rejection(_l("a link to a network or local path"), "ooxml")
        if rel_type.endswith(tuple(t.encode() for t in ACTIVE_REL_TYPES)):
            raise _active_rejection(_l("a link to an external file"), "ooxml")


def _ooxml_part_scanned(name: str) -> bool:
    lowered = name.lower()
    return lowered.endswith((".xml", ".rels")) and lowered.startswith(("xl/", "word/", "_rels/"))


# ---------------------------------------------------------------- archives


@dataclass
class _Budget:
    """Limits shared by an archive and every archive nested in it."""

    max_entries: int
    max_uncompressed: int
    entries: int = 0
    inflated: int = 0


def _entry_name_is_unsafe(name: str) -> bool:
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return True
    path = name.replace("\\", "/")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return True
    return any(part == ".." for part in path.split("/"))


def _too_big(limit: int) -> UploadRejected:
    return UploadRejected("zip_size", _l(
        "The archive unpacks to more than %(limit)s MB and is refused.",
        limit=_format_mb(limit)))


def _check_archive(file: IO[bytes], size: int, budget: _Budget, depth: int) -> str:
    """Open a zip and check every entry; returns zip, docx, xlsx or ofd."""
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UploadRejected("corrupt", _l("The archive is damaged.")) from exc
    with archive:
        infos = archive.infolist()
        if not infos:
            raise UploadRejected("empty", _l("The archive is empty."))
        budget.entries += len(infos)
        if len(infos) > budget.max_entries or budget.entries > budget.max_entries * 10:
            raise UploadRejected("zip_entries", _l(
                "The archive has more than %(limit)s files and is refused.",
                limit=budget.max_entries))
        if sum(i.file_size for i in infos) + budget.inflated > budget.max_uncompressed:
            raise _too_big(budget.max_uncompressed)
        # Entries that share compressed data (overlapping-file bombs) add up to more than the file.
        shared_offsets = len({i.header_offset for i in infos}) < len(infos)
        if shared_offsets or sum(i.compress_size for i in infos) > size:
            raise UploadRejected("zip_bomb", _l(
                "The archive is built to unpack to far more than its size (a zip bomb)."))
        names = set()
        ooxml = any(i.filename.lower() == "[content_types].xml" for i in infos)
        for info in infos:
            if ooxml and info.filename.replace("\\", "/").lower().startswith(
                    ("xl/externallinks/", "word/externallinks/")):
                raise _active_rejection(_l("a link to another workbook"), "xlsx")
            if _entry_name_is_unsafe(info.filename):
                raise UploadRejected("zip_path", _l(
                    "The archive contains an unsafe path (%(name)s) and is refused.",
                    name=safe_display_name(info.filename) or "..."))
            if info.flag_bits & 0x41:
                raise UploadRejected("zip_encrypted", _l(
                    "The archive contains encrypted files, which cannot be checked. "
                    "Upload it without a password."))
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UploadRejected("zip_path", _l(
                    "The archive contains a symbolic link (%(name)s) and is refused.",
                    name=safe_display_name(info.filename)))
            if info.file_size > 1024 * 1024 and info.file_size > MAX_ZIP_RATIO * max(
                    info.compress_size, 1):
                raise UploadRejected("zip_bomb", _l(
                    "The archive is built to unpack to far more than its size (a zip bomb)."))
            base = info.filename.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
            if not info.is_dir() and (_extension(base) in EXECUTABLE_EXTENSIONS
                                      or base.lower() == "vbaproject.bin"):
                raise UploadRejected("zip_executable", _l(
                    "The archive contains a program or macro (%(name)s) and is refused.",
                    name=safe_display_name(base)))
            names.add(info.filename.replace("\\", "/"))
        for info in infos:
            if not info.is_dir():
                _check_entry(archive, info, budget, depth, ooxml=ooxml)
    lowered = {n.lower() for n in names}
    if "[content_types].xml" in lowered:
        if any(n.startswith("word/") for n in names):
            return "docx"
        if any(n.startswith("xl/") for n in names):
            return "xlsx"
    if "ofd.xml" in lowered:
        return "ofd"
    return "zip"


def _check_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget,
                 depth: int, *, ooxml: bool = False) -> None:
    """Inflate one entry for real (CRC checked, size counted), sniff what it is, and scan
    document parts and PDFs for active content while inflating."""
    spool: IO[bytes] | None = None
    scanner: _ChunkScanner | PdfActiveScanner | None = None
    try:
        with archive.open(info) as entry:
            first = entry.read(CHUNK)
            kind = sniff(first)
            name = safe_display_name(info.filename)
            if kind in {"exe", "elf", "macho", "java", "script"}:
                raise UploadRejected("zip_executable", _l(
                    "The archive contains a program or macro (%(name)s) and is refused.",
                    name=name))
            if kind in UNINSPECTABLE_ARCHIVES:
                raise UploadRejected("zip_nested", _l(
                    "The archive contains another kind of archive (%(name)s) that cannot be "
                    "checked. Use ZIP only.", name=name))
            if kind == "zip":
                if depth >= MAX_ZIP_DEPTH:
                    raise UploadRejected("zip_nested", _l(
                        "Archives are nested too deeply (%(name)s).", name=name))
                spool = SpooledTemporaryFile(max_size=4 * SPOOL_IN_MEMORY)
            elif kind == "pdf":
                scanner = PdfActiveScanner()
            elif ooxml and _ooxml_part_scanned(info.filename.replace("\\", "/")):
                scanner = OoxmlActiveScanner(info.filename.replace("\\", "/"))
            chunk = first
            while chunk:
                budget.inflated += len(chunk)
                if budget.inflated > budget.max_uncompressed:
                    raise _too_big(budget.max_uncompressed)
                if spool is not None:
                    spool.write(chunk)
                if scanner is not None:
                    scanner.feed(chunk)
                chunk = entry.read(CHUNK)
            if scanner is not None:
                scanner.finish()
        if spool is not None:
            spool.seek(0, io.SEEK_END)
            nested_size = spool.tell()
            spool.seek(0)
            _check_archive(spool, nested_size, budget, depth + 1)
    except UploadRejected:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError,
            RuntimeError) as exc:
        raise UploadRejected("corrupt", _l("The archive is damaged.")) from exc
    finally:
        if spool is not None:
            spool.close()


# ---------------------------------------------------------------- the entry point


def _config(key: str) -> int:
    """The declared setting `key` (config.py): of the app, or of Config outside one."""
    return int(current_app.config[key] if has_app_context() else getattr(Config, key))


def validate_upload(
    file_storage,
    *,
    max_bytes: int | None = None,
    allowed: frozenset[str] | set[str] = DEFAULT_TYPES,
    zip_max_entries: int | None = None,
    zip_max_uncompressed: int | None = None,
) -> ValidatedUpload:
    """Read and check one uploaded file (a werkzeug FileStorage, or anything with .filename and
    .stream/.read). Limits default to app.config MAX_UPLOAD_MB, ZIP_MAX_ENTRIES and
    ZIP_MAX_UNCOMPRESSED_MB. Raises UploadRejected; on success the caller owns the temp file."""
    if max_bytes is None:
        max_bytes = _config("MAX_UPLOAD_MB") * 1024 * 1024
    if zip_max_entries is None:
        zip_max_entries = _config("ZIP_MAX_ENTRIES")
    if zip_max_uncompressed is None:
        zip_max_uncompressed = _config("ZIP_MAX_UNCOMPRESSED_MB") * 1024 * 1024
    raw_name = getattr(file_storage, "filename", None) if file_storage is not None else None
    if file_storage is None or not raw_name:
        raise UploadRejected("missing", _l("Choose a file to upload."))
    display = safe_display_name(raw_name)
    ext = _extension(display)
    if not display or not ext:
        raise UploadRejected("name", _l(
            "The file name has no extension (such as .pdf or .docx)."))
    allowed = {a.lower() for a in allowed}
    if ext not in allowed or ext not in ACCEPTED_CONTENT:
        raise UploadRejected("extension", _l(
            "Files of type “.%(ext)s” are not accepted. Accepted types: %(allowed)s.",
            ext=ext[:10], allowed=", ".join(sorted(allowed & set(ACCEPTED_CONTENT)))))

    spool = SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    try:
        return _validate_content(file_storage, spool, raw_name, display, ext, max_bytes,
                                 zip_max_entries, zip_max_uncompressed)
    except UploadRejected as error:
        spool.close()
        error.filename = error.filename or display
        raise
    except BaseException:
        spool.close()
        raise


def _validate_content(file_storage, spool, raw_name: str, display: str, ext: str,
                      max_bytes: int, zip_max_entries: int,
                      zip_max_uncompressed: int) -> ValidatedUpload:
    """Count, sniff and check the content of a named upload (see validate_upload)."""
    size, digest = _copy_counted(file_storage, spool, max_bytes)
    if size == 0:
        raise UploadRejected("empty", _l("The file is empty."))
    spool.seek(0)
    kind = sniff(spool.read(CHUNK))
    spool.seek(0)
    accepted = ACCEPTED_CONTENT[ext]
    if kind == "zip" and accepted & {"zip", "docx", "xlsx", "ofd"}:
        budget = _Budget(max_entries=zip_max_entries, max_uncompressed=zip_max_uncompressed)
        detected = _check_archive(spool, size, budget, depth=1)
        if detected not in accepted:
            raise _mismatch(ext, detected)
        if detected in {"docx", "xlsx", "ofd"} and kind == "zip" and ext == "zip":
            detected = "zip"  # a document sent as .zip is stored and served as a zip
    elif kind in accepted or (kind == "ole2" and accepted & {"doc", "xls"}):
        detected = _check_plain(spool, size, ext, kind)
    else:
        raise _mismatch(ext, kind)
    spool.seek(0)
    cleaned_original = "".join(
        ch for ch in raw_name if unicodedata.category(ch) not in {"Cc", "Cf"})[:255]
    return ValidatedUpload(original_name=cleaned_original, safe_display_name=display,
                           extension=ext, detected_type=detected, size=size,
                           sha256=digest, file=spool)


def validate_uploads(files, *, required: bool = False, max_files: int = 20,
                     **limits) -> list[ValidatedUpload]:
    """Validate every file of a multiple file input (request.files.getlist("evidence")).
    Inputs left empty are skipped; `required` refuses a form with no file at all. All or
    nothing: on the first refusal the files already read are closed and the error is raised
    (error.filename names the file)."""
    chosen = [f for f in files if f is not None and getattr(f, "filename", "")]
    if required and not chosen:
        raise UploadRejected("missing", _l("Choose a file to upload."))
    if len(chosen) > max_files:
        raise UploadRejected("too_many_files", _l(
            "At most %(limit)s files can be uploaded at once.", limit=max_files))
    accepted: list[ValidatedUpload] = []
    try:
        for file_storage in chosen:
            accepted.append(validate_upload(file_storage, **limits))
    except BaseException:
        for upload in accepted:
            upload.close()
        raise
    return accepted


@dataclass
class EvidenceSet:
    """The files of one report after validation: what to store, what was refused, and which
    chosen files were identical to another one (stored once)."""

    accepted: list[ValidatedUpload]
    errors: list[UploadRejected]
    duplicates: list[tuple[str, str]]  # (name of the dropped copy, name of the file kept)

    def close(self) -> None:
        """Release every accepted file's temp file."""
        for upload in self.accepted:
            upload.close()


def validate_evidence_set(files, *, max_files: int, max_total_bytes: int,
                          **limits) -> EvidenceSet:
    """Validate the files of one report (request.files.getlist(...)); empty inputs are skipped.

    More than max_files chosen files is refused before any is read. Every file is checked and
    every refusal collected (error.filename names the file). Files with the same SHA-256 as an
    earlier one are stored once: the copy is dropped and listed in `duplicates`. The files kept
    must add up to at most max_total_bytes. When `errors` is not empty the caller refuses the
    report and calls close()."""
    chosen = [f for f in files if f is not None and getattr(f, "filename", "")]
    if len(chosen) > max_files:
        raise UploadRejected("too_many_files", _l(
            "A report can carry at most %(limit)s files; %(count)s were chosen. Combine them "
            "(for example, into one PDF or a ZIP archive) and upload again.",
            limit=max_files, count=len(chosen)))
    result = EvidenceSet(accepted=[], errors=[], duplicates=[])
    by_digest: dict[str, ValidatedUpload] = {}
    try:
        for file_storage in chosen:
            try:
                upload = validate_upload(file_storage, **limits)
            except UploadRejected as error:
                result.errors.append(error)
                continue
            first = by_digest.get(upload.sha256)
            if first is not None:
                result.duplicates.append((upload.safe_display_name, first.safe_display_name))
                upload.close()
                continue
            by_digest[upload.sha256] = upload
            result.accepted.append(upload)
        total = sum(upload.size for upload in result.accepted)
        if total > max_total_bytes:
            result.errors.append(UploadRejected("too_large_total", _l(
                "The files of a report may add up to at most %(limit)s MB; these add up to "
                "%(total)s MB.", limit=_format_mb(max_total_bytes), total=_format_mb(total))))
    except BaseException:
        result.close()
        raise
    return result


def _copy_counted(file_storage, target: IO[bytes], max_bytes: int) -> tuple[int, str]:
    """Copy the upload in chunks, counting bytes; refuse as soon as the cap is passed."""
    source = getattr(file_storage, "stream", file_storage)
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise UploadRejected("too_large", _l(
                "The file is larger than the %(limit)s MB limit.",
                limit=_format_mb(max_bytes)))
        digest.update(chunk)
        target.write(chunk)
    return size, digest.hexdigest()


def _format_mb(limit: int) -> str:
    mb = limit / (1024 * 1024)
    return f"{mb:.0f}" if mb >= 1 else f"{mb:.2f}"
