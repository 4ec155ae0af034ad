"""DOCX/PPTX/XLSX: custom property ``AIGC`` (``vt:lpwstr``) in ``docProps/custom.xml``.

The package is rewritten member by member; the custom part, its content-type override and its
relationship are added when missing, and other custom properties are kept. The content digest
covers every member except those three bookkeeping parts, by name and uncompressed bytes, so it
does not depend on ZIP timestamps or compression.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from collections.abc import Iterable

from lxml import etree

from hegui.labels.formats import FormatError, Handler

CUSTOM = "docProps/custom.xml"
CT = "[Content_Types].xml"
RELS = "_rels/.rels"
NS_CP = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
NS_VT = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
NS_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
NS_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
REL_CUSTOM = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
CT_CUSTOM = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
_MAIN = {"docx": "word/", "pptx": "ppt/", "xlsx": "xl/"}
MAX_MEMBER = 512 * 1024**2


def _open(data: bytes) -> zipfile.ZipFile:
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, NotImplementedError, ValueError, OSError):
        raise FormatError("not a valid Office (ZIP) package: truncated or corrupt") from None
    if CT not in z.namelist():
        raise FormatError("ZIP file is not an Office Open XML package (no [Content_Types].xml)")
    return z


def _xml(b: bytes, what: str) -> etree._Element:
    try:
        return etree.fromstring(b, _PARSER)
    except etree.XMLSyntaxError as e:
        raise FormatError(f"{what} is not well-formed XML: {e}") from None


def read(data: bytes) -> list[str]:
    z = _open(data)
    if CUSTOM not in z.namelist():
        return []
    root = _xml(_read_member(z, z.getinfo(CUSTOM)), CUSTOM)
    out = []
    for p in root.iter(f"{{{NS_CP}}}property"):
        if p.get("name") == "AIGC":
            out.append("".join(p.itertext()))
    return out


def _custom_xml(old: bytes | None, value: str) -> bytes:
    root = (
        _xml(old, CUSTOM)
        if old
        else etree.Element(f"{{{NS_CP}}}Properties", nsmap={None: NS_CP, "vt": NS_VT})
    )
    for p in list(root.iter(f"{{{NS_CP}}}property")):
        if p.get("name") == "AIGC":
            root.remove(p)
    pids = [int(p.get("pid", "1")) for p in root.iter(f"{{{NS_CP}}}property")]
    p = etree.SubElement(root, f"{{{NS_CP}}}property", fmtid=FMTID, pid=str(max([1, *pids]) + 1), name="AIGC")
    etree.SubElement(p, f"{{{NS_VT}}}lpwstr").text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _content_types(b: bytes) -> bytes:
    root = _xml(b, CT)
    if not any(o.get("PartName") == "/" + CUSTOM for o in root.iter(f"{{{NS_CT}}}Override")):
        etree.SubElement(root, f"{{{NS_CT}}}Override", PartName="/" + CUSTOM, ContentType=CT_CUSTOM)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _rels(b: bytes | None) -> bytes:
    root = _xml(b, RELS) if b else etree.Element(f"{{{NS_REL}}}Relationships", nsmap={None: NS_REL})
    rels = list(root.iter(f"{{{NS_REL}}}Relationship"))
    if not any(r.get("Type") == REL_CUSTOM for r in rels):
        ids = {r.get("Id") for r in rels}
        n = 1
        while f"rId{n}" in ids:
            n += 1
        etree.SubElement(root, f"{{{NS_REL}}}Relationship", Id=f"rId{n}", Type=REL_CUSTOM, Target=CUSTOM)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    if info.file_size > MAX_MEMBER:
        raise FormatError(f"package member {info.filename!r} is too large ({info.file_size} bytes)")
    try:
        return z.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as e:
        raise FormatError(f"package member {info.filename!r} is corrupt: {e}") from None


def write(data: bytes, value: str) -> bytes:
    z = _open(data)
    names = z.namelist()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in z.infolist():
            b = _read_member(z, info)
            if info.filename == CUSTOM:
                b = _custom_xml(b, value)
            elif info.filename == CT:
                b = _content_types(b)
            elif info.filename == RELS:
                b = _rels(b)
            out.writestr(info, b, compress_type=zipfile.ZIP_DEFLATED)
        if CUSTOM not in names:
            out.writestr(CUSTOM, _custom_xml(None, value))
        if RELS not in names:
            out.writestr(RELS, _rels(None))
    return buf.getvalue()


def content(data: bytes) -> Iterable[bytes]:
    z = _open(data)
    for info in sorted(z.infolist(), key=lambda i: i.filename):
        if info.filename not in (CUSTOM, CT, RELS):
            yield info.filename.encode() + b"\0" + hashlib.sha256(_read_member(z, info)).digest()


def _sniffer(kind: str):
    def sniff(d: bytes, ext: str) -> bool:
        if d[:4] != b"PK\x03\x04":
            return False
        if ext == kind:
            return True
        # Extension missing or wrong: look at the members (only when no other Office type claimed it).
        try:
            names = zipfile.ZipFile(io.BytesIO(d)).namelist()
        except (zipfile.BadZipFile, NotImplementedError, ValueError, OSError):
            return ext == kind
        return ext not in _MAIN and CT in names and any(n.startswith(_MAIN[kind]) for n in names)

    return sniff


HANDLERS = [Handler(k, (k,), _sniffer(k), read, write, content, "document") for k in ("docx", "pptx", "xlsx")]
