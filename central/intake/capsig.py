"""XML signatures of CAP messages (XML-DSig, enveloped), verified with signxml against the
certificates pinned in the source's configuration.

A source that requires signatures takes only messages whose signature verifies against one
of its pinned certificates (the FCC rule for EAS devices); what is then read is the signed
content signxml returns, never the document around it (no signature-wrapping tricks). A
source that does not require them still refuses a message whose signature is present but
wrong, and takes unsigned ones as unverified (they never air automatically).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree
from signxml import InvalidInput, InvalidSignature, XMLVerifier
from signxml.exceptions import SignXMLException

from central.intake.cap import parse_xml
from central.intake.errors import intake_error

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(frozen=True)
class Verified:
    element: etree._Element     # the alert to read: the signed content when a signature verified
    verified: bool


def has_signature(root: etree._Element) -> bool:
    return root.find(f".//{{{DSIG_NS}}}Signature") is not None


def verify(xml: bytes, *, certificates: Sequence[str], required: bool) -> Verified:
    """The alert element to read, after checking its signature as the source requires."""
    root = parse_xml(xml)
    if not has_signature(root):
        if required:
            raise intake_error("cap_unsigned", "Bản tin CAP không có chữ ký số mà nguồn này bắt buộc; bị từ chối.",
                               "The CAP message is not signed and this source requires signatures; refused.")
        return Verified(root, False)
    if not certificates:
        if required:
            raise intake_error("cap_no_certificate", "Nguồn CAP chưa có chứng thư nào được ghim; không kiểm được chữ ký.",
                               "The CAP source has no pinned certificate; the signature cannot be checked.")
        raise intake_error("cap_signature", "Bản tin CAP có chữ ký nhưng nguồn chưa ghim chứng thư để kiểm; bị từ chối.",
                           "The CAP message is signed but the source pins no certificate to check it; refused.")
    for pem in certificates:
        try:
            result = XMLVerifier().verify(xml, x509_cert=pem, ignore_ambiguous_key_info=True)
        except (InvalidSignature, InvalidInput, SignXMLException, ValueError, etree.XMLSyntaxError):
            continue
        signed = result[0] if isinstance(result, list) else result
        element = signed.signed_xml
        if element is None or element.tag != root.tag:
            continue  # the signature covers something else than the alert itself
        return Verified(element, True)
    raise intake_error("cap_signature", "Chữ ký số của bản tin CAP không hợp lệ (bị sửa hoặc sai chứng thư); bị từ chối.",
                       "The CAP message's signature does not verify (tampered or not by a pinned certificate); refused.")
