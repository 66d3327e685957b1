"""Street addresses in the formats people type them, for the US, UK and much of Europe."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from typing import ClassVar, Final, NamedTuple

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from nlu.phi.recognizers.base import RegexRecognizer


def _words(text: str) -> frozenset[str]:
    """Split a blank-separated word list (easier to read and edit than a list literal)."""
    return frozenset(text.split())


# Letter classes. Latin Extended-A mixes cases, so it counts as "upper" too: names that start
# with "Ł" or "Ś" must pass, and a lower-case "ł" first letter is rare enough not to matter.
_UP: Final = "A-ZÀ-ÖØ-Þ\u0100-\u017f"
_LET: Final = "A-Za-zÀ-ÖØ-öø-ÿ\u0100-\u017f"
_CAPWORD: Final = f"[{_UP}][{_LET}'’-]*+"
_ANYWORD: Final = f"[{_LET}][{_LET}'’-]*+"
# Lower-case particles inside names: "Rue de Rivoli", "Calle de los Reyes", "Via della Pace".
_PARTICLE: Final = (
    r"(?:de|del|della|delle|dei|degli|di|da|das|do|dos|du|des|la|las|los|le|les|el|y|e|i"
    r"|van|von|der|den|ten|ter|am|an|im|zum|zur|op|aan|sur|al|dell['’]|d['’]|l['’])"
)
_CAPNAME: Final = f"(?:[dDlL]['’])?{_CAPWORD}"
_NAMESEQ: Final = (
    f"(?:{_PARTICLE}[ \\t]+){{0,2}}{_CAPNAME}"
    f"(?:[ \\t]+(?:{_PARTICLE}[ \\t]+){{0,2}}{_CAPNAME}){{0,3}}"
)
# A house number must not continue another number, price or fraction ("1,200", "$12", "1/2").
_NUM_START: Final = r"(?<![\w.,/#$€£-])(?<!\d:)"
_HOUSE: Final = r"\d{1,6}(?:-\d{1,5})?[A-Za-z]?"
_EURO_HOUSE: Final = r"\d{1,5}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?"
_HOUSE_PREFIX: Final = r"(?:(?i:n[º°o]\.?|no[:.]?|nr\.?|núm\.?|num\.?)[ \t]*|\#[ \t]*)?"

_US_STATES: Final = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV"
    "|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI"
    "|AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT"
)
_SEP: Final = r"(?:[ \t]*,[ \t]*|[ \t]*\r?\n[ \t]*|[ \t]+)"
_EURO_POSTCODE: Final = (
    r"(?:[A-Z]{1,2}-)?(?:\d{2}-\d{3}|\d{3}[ \t]\d{2}|\d{4}[ \t]?[A-Z]{2}|\d{4,5})"
)
_UK_POSTCODE: Final = r"[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}"
_CITY_TAIL: Final = (
    r"(?P<city>"
    + _SEP
    + r"(?:"
    # Springfield, IL 62704 / Toronto, ON M5V 2T6
    + _CAPWORD
    + r"(?:[ \t]+"
    + _CAPWORD
    + r"){0,2}(?:[ \t]*,[ \t]*|[ \t]+)(?:"
    + _US_STATES
    + r")(?:[ \t]+(?:\d{5}(?:-\d{4})?|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d))?"
    # London SW1A 2AA
    + r"|(?:"
    + _CAPWORD
    + r"(?:[ \t]+"
    + _CAPWORD
    + r"){0,2}(?:[ \t]*,[ \t]*|[ \t]+))?"
    + _UK_POSTCODE
    # 10115 Berlin / 00-950 Warszawa / 1012 AB Amsterdam
    + r"|"
    + _EURO_POSTCODE
    + r"[ \t]+"
    + _CAPWORD
    + r")(?![\w]))?"
)
_UNIT_TAIL: Final = (
    r"(?:[ \t]*,?[ \t]*(?:(?i:apt|apartment|suite|ste|unit|fl|floor|flat|bldg|building|lot"
    r"|trlr|spc|space|dept|lgh|piso|étage)\.?[ \t]*\#?[ \t]*|\#[ \t]*)"
    r"(?:\d{1,5}[A-Za-z]?|[A-Za-z](?:-?\d{1,4})?)(?![\w])"
    r"|[ \t]*,?[ \t]*\d{1,2}(?i:st|nd|rd|th)[ \t]+(?i:floor|fl)\.?)?"
)
_TAIL: Final = r"(?:[ \t]+(?:N|S|E|W|NE|NW|SE|SW)\.?(?![\w]))?" + _UNIT_TAIL + _CITY_TAIL

# English street types that follow the name ("Elm Street", "Oak Ave").
_EN_SUFFIX: Final = (
    "street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl"
    "|terrace|terr|ter|highway|hwy|parkway|pkwy|circle|cir|square|sq|trail|trl|crescent|cres"
    "|close|grove|gardens|gdns|row|alley|aly|path|pike|loop|plaza|plz|expressway|expy"
    "|freeway|fwy|turnpike|tpke|mews|walk|crossing|xing|causeway|quay|wharf|esplanade"
    "|promenade|heights|hts|bypass|byp"
)
# Words that sit between a number and "street"/"drive" in ordinary sentences
# ("3 blocks down the street", "20 minute drive", "4 wheel drive", "2 lane road").
_EN_STOP: Final = (
    "the|a|an|of|on|in|at|to|from|down|up|across|along|over|by|near|off|and|or|but|my|your"
    "|our|his|her|their|its|this|that|these|those|is|was|are|were|be|been|blocks?|miles?|km"
    "|kms|minutes?|mins?|hours?|hrs?|hr|days?|weeks?|months?|years?|yrs?|yr|seconds?|secs?"
    "|people|persons|cars?|lanes?|times?|doors?|houses?|buildings?|exits?|stops?|streets"
    "|roads|floors?|beds?|rooms?|kids?|ways?|more|other|different|same|next|last|whole"
    "|entire|busy|wheel|star|stars|tb|gb|mb|feet|foot|ft|yards?|meters?|metres?|m|inch"
    "|inches|lbs?|kg|mg|ml|dollars?|bucks|percent|degrees?|points?|story|storey|stories"
    "|bedrooms?|baths?|bathrooms?|x|am|pm|hard|test|one|two|three|four|five|six|seven"
    "|eight|nine|ten|dozen|hundred|thousand|visits?|patients?|nurses?|doctors?|staff"
)
_EN_NAMETOK: Final = (
    r"(?:\d{1,3}(?i:st|nd|rd|th)|(?=[" + _LET + r"])(?!(?i:" + _EN_STOP + r")(?![\w'’.-]))"
    r"[" + _LET + r"][" + _LET + r"'’.-]*+)"
)

_FIRST_TYPES: Final = (
    r"rue|calle|c/|avenida|avda\.?|av\.|avenue|ave\.|rua|via|viale|piazza|piazzale|corso"
    r"|vicolo|largo|carrer|carretera|paseo|passeig|avinguda|travessa|travesía|praça|praca"
    r"|alameda|estrada|ulica|ul\.|aleja|al\.|plac|pl\.|osiedle|os\.|strada|str\.|calea"
    r"|bulevardul|boulevard|bd\.|bld\.|blvd\.|place|plaza|quai|impasse|allée|allee|chemin"
    r"|cours|route|jalan|jl\.|rambla|ronda|camino|prospekt|ulitsa|square|passage"
)
# Type words unambiguous enough to accept a lower-case street name ("calle mayor 7").
_FIRST_TYPES_LOWER_OK: Final = (
    r"rue|calle|avenida|avda\.?|rua|viale|piazza|piazzale|corso|vicolo|carrer|carretera"
    r"|paseo|passeig|avinguda|travessa|travesía|praça|praca|ulica|ul\.|aleja|strada|calea"
    r"|bulevardul|jalan|rambla|ulitsa|prospekt|impasse|allée|quai|chemin"
)
_FR_TYPES: Final = (
    r"rue|avenue|av\.|boulevard|bd\.?|bld\.?|place|allée|allee|impasse|chemin|quai|cours"
    r"|route|square|passage"
)
# Street-type endings of one-word names: "Kiannonkatu", "Nybyvägen", "Hauptstraße".
_COMPOUND_ANY_CASE: Final = _words(
    "katu kuja polku väylä kaari rinne gatan gata vägen väg gränd torget stigen backe "
    "straße strasse weg gasse allee platz damm ufer chaussee laan straat gracht plein kade "
    "dijk singel steeg vej veien vegen stræde utca iela tänav"
)
# Endings that are also English word endings: only with a capital ("Mannerheimintie").
_COMPOUND_CAPITALISED: Final = frozenset({"tie", "gade", "markt"})
_SEPARATE_TYPES: Final = (
    r"straße|strasse|str\.|weg|gasse|allee|platz|damm|ufer|chaussee|laan|straat|gracht"
    r"|plein|kade|vej|gade|gata|gatan|vägen|utca|út|tér|körút|iela|tänav|cesta|caddesi"
    r"|cad\.|sokak|sokağı|sk\.|bulvarı|bulvar|ulica|ulice|prospekt"
)
_ADDRESS_CUE: Final = (
    r"(?:(?:home|street|mailing|postal|my|our|his|her|their|the)[ \t]+)?address(?:[ \t]+is)?"
    r"|addr\.?|(?:i|we|they|he|she)[ \t]+(?:live|lives|reside|resides)[ \t]+(?:at|on)"
    r"|(?:living|residing|located|staying)[ \t]+(?:at|on)|dirección|direccion|domicilio"
    r"|vivo[ \t]+en(?:[ \t]+(?:la|el))?|adresse|anschrift|wohne[ \t]+in(?:[ \t]+der)?"
    r"|indirizzo|endereço|endereco|moro[ \t]+n[ao]|osoite|adres|adress|bor[ \t]+på"
    r"|woon[ \t]+op|mieszkam[ \t]+(?:przy|na)"
)


def _lookbehinds(words: Iterable[str]) -> str:
    # Python's look-behind needs a fixed width, so each ending gets its own.
    return "(?:" + "|".join(f"(?<={re.escape(w)})" for w in sorted(words)) + ")"


class _Candidate(NamedTuple):
    start: int
    end: int
    score: float


class StreetAddressRecognizer(RegexRecognizer):
    """Recognise street addresses, PO boxes, military addresses and apartment/suite numbers.

    Shapes covered: "1234 Elm Street", "55 N Main St Apt 4", "42 Oak Ave, Springfield, IL
    62704", "12 rue de Rivoli", "Calle Mayor 7", "ul. Miła 53", "Kiannonkatu 98",
    "Berliner Straße 12", "PO Box 1234", "PSC 3294, Box 9168 APO AA 61487", "Suite 910".
    A number is always required, so "the main street entrance" or "Riverside Medical Center"
    never match. Limits: a street name with no type word ("Reyes Católicos 17") needs an
    address cue before it ("I live at", "dirección") or a postcode after it; "unit 4B" and
    "2nd floor" alone are not addresses; French number-first addresses need a capitalised
    name ("12 rue de Rivoli").
    """

    name: str
    ENTITY: ClassVar[str] = "STREET_ADDRESS"
    EXPLANATION: ClassVar[str] = "street address shape"
    SCORE_FULL: ClassVar[float] = 0.95
    SCORE_STREET: ClassVar[float] = 0.85
    SCORE_LOWERCASE: ClassVar[float] = 0.6
    SCORE_POSTCODE_ONLY: ClassVar[float] = 0.8
    SCORE_UNIT_ONLY: ClassVar[float] = 0.6
    SCORE_BOX: ClassVar[float] = 0.9

    # Suffixes whose lower-case use is mostly an address; "way", "place", "court", "walk"
    # are common nouns, so those need a capitalised street name.
    LOWERCASE_SUFFIXES: ClassVar[frozenset[str]] = _words(
        "street st avenue ave road rd boulevard blvd lane ln drive dr ct pl terrace ter "
        "highway hwy parkway pkwy cir crescent cres trl"
    )
    # Capitalised sentence openers that the name-first shapes would otherwise swallow.
    LEADING_NON_NAMES: ClassVar[frozenset[str]] = _words(
        "the in at on to from i my our we ich wir je yo mi ma mon meine mein address adresse "
        "home please send ship mail located live lives hi hello visit near by and or is it "
        "this that your his her their auf bei"
    )
    COMPOUND_EXCEPTIONS: ClassVar[frozenset[str]] = _words(
        "brigade renegade cavalcade cutie bowtie necktie sweetie hottie auntie"
    )
    VIA_NOT_STREETS: ClassVar[frozenset[str]] = _words(
        "zoom facebook messenger teams skype email e-mail text phone mychart instagram twitter "
        "whatsapp google amazon ups fedex usps uber lyft telehealth video chat portal"
    )
    ENGLISH_WORDS: ClassVar[frozenset[str]] = _words(
        "is was are the a an at in on to for of and or but my your our i we you he she they it "
        "this that there here with from by"
    )

    EN_STREET: ClassVar[re.Pattern[str]] = re.compile(
        _NUM_START + r"(?P<num>" + _HOUSE + r")[ \t]+"
        r"(?P<name>(?:" + _EN_NAMETOK + r"[ \t]+){0,3}" + _EN_NAMETOK + r")[ \t]+"
        r"(?P<suffix>(?i:" + _EN_SUFFIX + r"))(?![\w'’-])\.?" + _TAIL
    )
    # "1500 Route 9", "12345 County Road 12"; "take route 9" has no house number.
    EN_ROUTE: ClassVar[re.Pattern[str]] = re.compile(
        _NUM_START + _HOUSE + r"[ \t]+(?:(?i:(?:state|county|u\.s\.|us|farm[ \t]+to[ \t]+market)"
        r"[ \t]+(?:route|road|highway|hwy|rte|rd)|route|rte|highway|hwy)|US|SR|CR|FM)"
        r"[ \t]*-?[ \t]*\d{1,4}[A-Za-z]?(?![\w])" + _TAIL
    )
    BROADWAY: ClassVar[re.Pattern[str]] = re.compile(
        _NUM_START + _HOUSE + r"[ \t]+(?i:broadway)(?![\w])" + _TAIL
    )
    FR_STREET: ClassVar[re.Pattern[str]] = re.compile(
        _NUM_START + r"\d{1,5}(?:[ \t]?(?i:bis|ter))?[A-Za-z]?,?[ \t]+(?i:" + _FR_TYPES + r")"
        r"(?![\w])[ \t]+" + _NAMESEQ + _CITY_TAIL
    )
    TYPE_FIRST: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?P<type>(?i:" + _FIRST_TYPES + r"))(?:(?<=[./])[ \t]*|[ \t]+)"
        r"(?P<name>"
        + _NAMESEQ
        + r")[ \t]*,?[ \t]*"
        + _HOUSE_PREFIX
        + _EURO_HOUSE
        + r"(?![\w])"
        + _UNIT_TAIL
        + _CITY_TAIL
    )
    TYPE_FIRST_LOWER: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?i:" + _FIRST_TYPES_LOWER_OK + r")(?:(?<=[./])[ \t]*|[ \t]+)"
        r"(?P<name>"
        + _ANYWORD
        + r"(?:[ \t]+"
        + _ANYWORD
        + r"){0,2})[ \t]*,?[ \t]*"
        + _HOUSE_PREFIX
        + _EURO_HOUSE
        + r"(?![\w])"
        + _CITY_TAIL
    )
    COMPOUND: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w'’-])(?P<word>[" + _LET + r"][" + _LET + r"'’-]*+)"
        r"(?:(?i:"
        + _lookbehinds(_COMPOUND_ANY_CASE)
        + r")|(?P<capsuffix>(?i:"
        + _lookbehinds(_COMPOUND_CAPITALISED)
        + r"))|(?i:(?<=str))\.)"
        r"[ \t]*,?[ \t]+" + _HOUSE_PREFIX + _EURO_HOUSE + r"(?![\w])"
        r"(?:[ \t]+[A-H](?:[ \t]*\d{1,3})?(?![\w]))?" + _CITY_TAIL
    )
    SEPARATE_TYPE: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w'’-])(?P<name>"
        + _CAPNAME
        + r"(?:[ \t]+(?:"
        + _PARTICLE
        + r"[ \t]+){0,2}"
        + _CAPNAME
        + r"){0,2})[ \t]+(?i:"
        + _SEPARATE_TYPES
        + r")(?![\w])[ \t]*,?[ \t]*"
        + _HOUSE_PREFIX
        + _EURO_HOUSE
        + r"(?![\w])"
        + _CITY_TAIL
    )
    PO_BOX: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?i:p\.?[ \t]?o\.?[ \t]?box|post[ \t]+office[ \t]+box|postfach|postbus"
        r"|postboks|apartado(?:[ \t]+postal)?|casilla(?:[ \t]+postal)?|caixa[ \t]+postal)"
        r"[ \t]*\#?[ \t]*\d{1,6}(?![\w])" + _CITY_TAIL
    )
    MILITARY: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:(?:PSC|CMR|UNIT|Unit)[ \t]+\d{1,5}[ \t]*,?[ \t]*(?i:box)[ \t]+\d{1,5}"
        r"(?:[ \t]*,?[ \t]*(?:APO|FPO|DPO)[ \t]+(?:AA|AE|AP)(?:[ \t]+\d{5}(?:-\d{4})?)?)?"
        r"|(?:USNS|USS|USCGC)[ \t]+" + _CAPWORD + r"(?:[ \t]+" + _CAPWORD + r"){0,2}"
        r"[ \t]*,?[ \t]*FPO[ \t]+(?:AA|AE|AP)(?:[ \t]+\d{5}(?:-\d{4})?)?)(?![\w])"
    )
    UNIT_ONLY: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:(?i:apt|apartment|suite|ste|lgh)\.?|Flat|FLAT)[ \t]*\#?[ \t]*"
        r"\d{1,5}[A-Za-z]?(?![\w])"
    )
    CUED: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?i:"
        + _ADDRESS_CUE
        + r")[ \t]*[:\-–]?[ \t]*(?P<value>"
        + _NAMESEQ
        + r"[ \t]*,?[ \t]+"
        + _HOUSE_PREFIX
        + _EURO_HOUSE
        + r"|"
        + _HOUSE
        + r"[ \t]+"
        + _NAMESEQ
        + r")(?![\w])"
        + _CITY_TAIL
    )
    POSTCODE_AFTER: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w'’-])(?P<name>"
        + _NAMESEQ
        + r")[ \t]+"
        + _HOUSE_PREFIX
        + _EURO_HOUSE
        + r"[ \t]*,[ \t]*"
        + _EURO_POSTCODE
        + r"[ \t]+"
        + _CAPWORD
        + r"(?![\w])"
    )
    # "Hauptstraße 5 Minuten", "Suite 3 hours", "via Zoom 3 times": a count, not a house.
    COUNT_AFTER: ClassVar[re.Pattern[str]] = re.compile(
        r"[ \t]*(?:%|(?i:am|pm|a\.m\.|p\.m\.|days?|weeks?|months?|years?|yrs?|hours?|hrs?"
        r"|minutes?|mins?|times|people|patients|percent|mg|ml|kg|lbs?|miles?|km|x"
        r"|o['’]clock)(?![\w]))"
    )
    WORD: ClassVar[re.Pattern[str]] = re.compile(f"{_ANYWORD}")

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
    ) -> list[RecognizerResult]:
        """Return every street address, PO box, military address or unit number in `text`."""
        if entities and self.ENTITY not in entities:
            return []
        candidates: list[_Candidate] = []
        candidates += self._english(text)
        for pattern in (self.EN_ROUTE, self.BROADWAY, self.FR_STREET):
            candidates += [self._with_tail(m, self.SCORE_STREET) for m in pattern.finditer(text)]
        candidates += self._type_first(text)
        candidates += self._compound(text)
        candidates += self._name_first(text, self.SEPARATE_TYPE, self.SCORE_STREET)
        candidates += self._name_first(text, self.POSTCODE_AFTER, self.SCORE_POSTCODE_ONLY)
        for pattern in (self.PO_BOX, self.MILITARY):
            candidates += [self._with_tail(m, self.SCORE_BOX) for m in pattern.finditer(text)]
        candidates += [
            _Candidate(*m.span(), self.SCORE_UNIT_ONLY) for m in self.UNIT_ONLY.finditer(text)
        ]
        for match in self.CUED.finditer(text):
            candidates.append(_Candidate(match.start("value"), match.end(), self.SCORE_STREET))
        kept = self._without_overlaps(
            c for c in candidates if not self.COUNT_AFTER.match(text, c.end)
        )
        return [self._result(c.start, c.end, c.score) for c in kept]

    def _english(self, text: str) -> list[_Candidate]:
        found: list[_Candidate] = []
        for match in self.EN_STREET.finditer(text):
            words = [w for w in match.group("name").split() if not w[0].isdigit()]
            capitalised = not words or any(w[0].isupper() for w in words)
            suffix = match.group("suffix").lower()
            if not capitalised and suffix not in self.LOWERCASE_SUFFIXES:
                continue
            score = self.SCORE_STREET if capitalised else self.SCORE_LOWERCASE
            found.append(self._with_tail(match, score))
        return found

    def _type_first(self, text: str) -> list[_Candidate]:
        found: list[_Candidate] = []
        for match in self.TYPE_FIRST.finditer(text):
            first_word = match.group("name").split()[0].lower()
            if match.group("type").lower() == "via" and first_word in self.VIA_NOT_STREETS:
                continue
            found.append(self._with_tail(match, self.SCORE_STREET))
        for match in self.TYPE_FIRST_LOWER.finditer(text):
            words = {w.lower() for w in match.group("name").split()}
            if words & self.ENGLISH_WORDS:
                continue
            found.append(self._with_tail(match, self.SCORE_STREET))
        return found

    def _compound(self, text: str) -> list[_Candidate]:
        found: list[_Candidate] = []
        for match in self.COMPOUND.finditer(text):
            word = match.group("word")
            if word.lower() in self.COMPOUND_EXCEPTIONS:
                continue
            if match.group("capsuffix") is not None and not word[0].isupper():
                continue
            # The ending alone ("Weg 5", "veg 2") is not a street name.
            if len(word) < 6:
                continue
            found.append(self._with_tail(match, self.SCORE_STREET))
        return found

    def _name_first(self, text: str, pattern: re.Pattern[str], score: float) -> list[_Candidate]:
        found: list[_Candidate] = []
        for match in pattern.finditer(text):
            start = match.start("name")
            # Drop capitalised openers the name pattern swallowed ("In der Berliner Straße").
            for word in self.WORD.finditer(match.group("name")):
                if word.group().lower() not in self.LEADING_NON_NAMES and word.group()[0].isupper():
                    start = match.start("name") + word.start()
                    break
            else:
                continue
            found.append(_Candidate(start, match.end(), score))
        return found

    def _with_tail(self, match: re.Match[str], score: float) -> _Candidate:
        # A city with a state or postcode after the street makes the address certain.
        has_city = "city" in match.re.groupindex and match.group("city") is not None
        return _Candidate(match.start(), match.end(), self.SCORE_FULL if has_city else score)

    @staticmethod
    def _without_overlaps(candidates: Iterable[_Candidate]) -> list[_Candidate]:
        # Several shapes can match one address; the longest reading wins. Kept spans never
        # overlap, so checking the two neighbours of the insertion point is enough, which
        # keeps this O(n log n) on hostile input with thousands of candidates.
        ordered = sorted(candidates, key=lambda c: (-(c.end - c.start), -c.score, c.start))
        starts: list[int] = []
        kept: list[_Candidate] = []
        for cand in ordered:
            i = bisect.bisect_right(starts, cand.start)
            if i > 0 and kept[i - 1].end > cand.start:
                continue
            if i < len(kept) and kept[i].start < cand.end:
                continue
            starts.insert(i, cand.start)
            kept.insert(i, cand)
        return kept
