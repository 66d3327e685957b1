"""Email addresses, validated against the public-suffix list bundled with tldextract."""

from __future__ import annotations

import tldextract
from presidio_analyzer.predefined_recognizers import EmailRecognizer

# suffix_list_urls=() makes tldextract use its bundled snapshot: no download at run time,
# which a hospital network may block and which would leak timing to the outside.
_OFFLINE_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class OfflineEmailRecognizer(EmailRecognizer):
    """presidio's email recognizer with a public-suffix check that never uses the network."""

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(supported_language=supported_language, name="OfflineEmailRecognizer")

    def validate_result(self, pattern_text: str) -> bool:
        """Accept an address only when its domain has a known public suffix."""
        return bool(_OFFLINE_EXTRACT(pattern_text).suffix)
