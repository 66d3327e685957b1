"""People named where the text itself says it is a person: kinship, self-introduction, DOB."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar, Final

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from nlu.phi.recognizers.base import RegexRecognizer


def _words(text: str) -> frozenset[str]:
    """Split a blank-separated word list (easier to read and edit than a list literal)."""
    return frozenset(text.split())


_KIN_WORDS: Final = _words(
    "son daughter kid kiddo child baby boy girl husband hubby wife wifey spouse partner "
    "fiance fiancé fiancee fiancée boyfriend girlfriend bf gf mom mother mum mommy mummy mama "
    "momma mamma dad father daddy papa pops brother bro sister sis grandma grandmother granny "
    "gran nana nanna grandpa grandfather gramps grampa granddad grandad grandson "
    "granddaughter grandchild grandbaby aunt auntie aunty uncle cousin nephew niece stepson "
    "stepdaughter stepmom stepmother stepdad stepfather stepbrother stepsister twin toddler "
    "infant newborn friend bestie bff neighbor neighbour roommate coworker co-worker colleague "
    "client patient godson goddaughter godmother godfather"
)
_KIN_PHRASES: Final = (
    r"(?:mother|father|son|daughter|sister|brother)[ \t-]in[ \t-]law",
    r"best[ \t]+friend",
    r"loved[ \t]+one",
    r"baby[ \t]+(?:boy|girl|brother|sister)",
    r"little[ \t]+(?:boy|girl|one)",
    r"great[ \t-]grand(?:ma|mother|pa|father|son|daughter)",
)
# Spanish kin and role words after "mi", "su", "nuestra"…: only a capitalised name counts
# after them ("mi hija Ana"), because the words that follow are otherwise verbs ("mi hijo
# tiene fiebre").
_KIN_WORDS_ES: Final = _words(
    "hijo hija hijos hijas niño niña nino nina bebé bebe esposo esposa marido mujer pareja "
    "novio novia mamá mama madre papá papa padre hermano hermana abuelo abuela abuelita "
    "abuelito tío tio tía tia primo prima sobrino sobrina nieto nieta suegro suegra cuñado "
    "cunado cuñada cunada amigo amiga vecino vecina paciente"
)
# Kin words that also work as a title without "my": "Grandpa Walter", "aunt Mary".
_TITLE_KIN: Final = _words(
    "grandpa grandma granny grandmother grandfather gramps grampa nana nanna aunt auntie aunty "
    "uncle cousin"
)
_MODIFIER: Final = (
    r"(?:little|baby|older|younger|big|eldest|oldest|youngest|elderly|late|dear|beloved|sweet"
    r"|precious|teenage|teen|adult|grown|elder|\d{1,2}[ \t-]?(?:yo|y/o|y\.o\.?|yr[ \t-]?old"
    r"|year[ \t-]old|month[ \t-]old|mo[ \t-]old|week[ \t-]old|wk[ \t-]old|day[ \t-]old))"
)


def _alternation(words: Iterable[str]) -> str:
    # Longest first, so "baby boy" wins over "baby" and "grandma" over "gran".
    return "|".join(sorted(words, key=lambda w: (-len(w), w)))


class PersonInContextRecognizer(RegexRecognizer):
    """Recognise names after kinship/role cues, self-introductions, sign-offs and before DOBs.

    Only the name is returned, never the cue. Clinicians ("Dr. Lopez", "nurse Kelly",
    "Kelly Smith, RN") are never matched: they are staff, handled by policy elsewhere.
    Lower-case names are accepted only after strong cues (kinship, "patient", "my name is").
    """

    name: str
    ENTITY: ClassVar[str] = "PERSON"
    EXPLANATION: ClassVar[str] = "name introduced by a person cue"
    SCORE_CAPITALISED: ClassVar[float] = 0.9
    SCORE_LOWERCASE: ClassVar[float] = 0.85
    SCORE_SELF: ClassVar[float] = 0.85
    MAX_TOKENS: ClassVar[int] = 3

    # Words that commonly follow a cue but are not names ("my son is", "my mom has",
    # "patient portal", "I'm sorry"). Compared case-insensitively.
    STOP_WORDS: ClassVar[frozenset[str]] = _words(
        """
        a an the this that these those some any all both each every one two three four five
        i me my mine we us our you your he him his she her hers they them their it its who whom
        whose which what when where why how and or but nor so yet because since if though
        although while as at in on to for from with without about after before by of into onto
        over under up down out off again here there too very not no yes nope yeah ok okay also
        just really still already always never ever now then today tonight tomorrow yesterday
        last next soon later once twice only even well much many more most less few other
        another same such own is isn't isnt was wasn't wasnt were weren't are aren't am be been
        being has hasn't hasnt have haven't havent had hadn't do does doesn't doesnt did didn't
        didnt done will won't wont would wouldn't can can't cant could couldn't should shouldn't
        might must may shall get gets got gotten getting go goes went gone going come comes came
        coming take takes took taken taking make makes made making say says said tell tells told
        call calls called calling need needs needed want wants wanted keep keeps kept fell falls
        broke breaks passed died started stopped tried tries waited waiting spent stayed left
        saw seen sees see feel feels felt look looks looked seem seems seemed think thinks
        thought know knows knew work works worked live lives lived love loves loved like likes
        liked hate hates hated give gives gave bring brings brought ran run runs hit hurt hurts
        cut woke wakes slept sleeps ate eats drank threw throws vomited fainted collapsed coughed
        cried screamed tested received visited arrived moved turned turns become became let lets
        put puts sent sends found finds lost loses paid pays used uses help helps helped needs
        was's started starts ended ends waits sits sat stood stands walked walks talked talks
        asked asks answered says yelled gets leaves left arrived stays shows showed showing
        currently recently finally actually literally basically probably definitely usually
        sometimes almost nearly barely maybe perhaps hopefully unfortunately luckily honestly
        seriously totally completely absolutely still even already again anyway
        who's whos that's thats it's there's theres he's hes she's shes they're theyre we're
        i'm im i've ive i'd id i'll ill you're youre
        & n w b/c bc cuz u ur r y ya yall lol lmao omg smh pls plz please thanks thank thx
        hi hello hey dear sorry sad glad happy mad sure tired sick ill unwell worried scared
        afraid concerned confused frustrated upset angry disappointed grateful thankful
        pregnant diabetic allergic alone home here back away inside outside fine good bad great
        ok okay alright better worse worst best new old young little big small older younger
        writing calling asking trying wondering looking having reaching hoping messaging
        emailing texting posting contacting following checking
        son daughter kid kids child children baby babies boy girl husband wife spouse partner
        mom mother mum dad father brother sister grandma grandpa aunt uncle cousin nephew niece
        family friend friends twin twins toddler infant newborn parent parents in-law law
        dob born birth date
        age aged years year yo months month weeks week days day hours hour old
        born birthday bday school daycare teacher doctor dr doc nurse surgeon physician
        pediatrician therapist pharmacist provider staff team appointment appt appts surgery
        er ed icu nicu room bed hospital clinic office department dept unit ward floor
        patient patients portal care experience advocate advocacy rights safety relations
        privacy transport transportation parking information info services service access
        satisfaction billing financial visitor visitors records record chart charts education
        support intake registration check entrance lounge centered friendly id number name
        names list lift meals food gown belongings liaison navigator representative rep
        coordinator line phone hotline survey feedback complaint complaints forms form status
        update updates discharge discharged admitted admission transfer transferred flow
        volume volumes load session sessions exercises exercise clinic therapy appointment
        urgent emergency ridiculous unacceptable terrible horrible awful insane crazy amazing
        awesome wonderful fantastic incredible absurd outrageous disgusting annoying
        type stage level part point page post comment message question
        everyone everybody anyone anybody someone somebody nobody none nothing something
        anything everything again
        monday tuesday wednesday thursday friday saturday sunday weekend january february
        march october november december christmas thanksgiving easter
        american canadian mexican british english spanish jewish catholic christian muslim
        hispanic latina latino black white asian native indian african deaf blind disabled
        veteran vet retired unemployed uninsured insured covered
        covid covid-19 flu rsv cancer diabetes pneumonia strep asthma fever stroke dementia
        alzheimers alzheimer's copd chf uti mri ct xray x-ray ekg ecg iv hiv adhd autism ptsd
        """
    )
    # Clinician titles directly before a name mean staff, not a patient or relative.
    CLINICIAN_TITLES: ClassVar[frozenset[str]] = _words(
        "dr dr. doctor doc nurse rn np pa prof professor surgeon therapist physician "
        "pharmacist midwife paramedic emt chaplain"
    )
    # Stop words that are also first names; Title-case after a cue means the name.
    TITLE_CASE_NAMES: ClassVar[frozenset[str]] = frozenset({"will", "may", "june", "august"})
    HONORIFICS: ClassVar[frozenset[str]] = frozenset({"mr", "mrs", "ms", "miss", "mx"})
    # A following organisation word means "this is Riverside Medical Center", not a person.
    ORG_WORDS: ClassVar[frozenset[str]] = _words(
        "hospital hospitals medical medicine clinic clinics center centre health healthcare "
        "care team staff department dept office pharmacy foundation university college group "
        "inc llc ltd corp services urgent emergency ems system systems network"
    )
    CREDENTIAL_AFTER: ClassVar[re.Pattern[str]] = re.compile(
        r"[ \t]*,?[ \t]*(?:MD|M\.D\.|RN|R\.N\.|NP|PA-C|PA|DO|D\.O\.|DNP|LPN|LVN|CNA|PhD|FNP"
        r"|APRN|DDS|DMD|PharmD|CRNA|MSN|BSN|CNM)(?![\w])"
    )

    _SEP = r"[ \t]*(?:[,(:\-–—][ \t]*)?"
    KIN_CUE: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:my|our|his|her|their|your)[ \t]+(?:" + _MODIFIER + r"[ \t]+){0,2}"
        r"(?:" + _alternation([*_KIN_PHRASES, *_KIN_WORDS]) + r")"
        # "my daughter's school": a possessive is not followed by her name.
        r"(?!['’])(?![\w-])" + _SEP,
        re.IGNORECASE,
    )
    KIN_CUE_ES: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:mi|mis|su|sus|tu|nuestro|nuestra)[ \t]+(?:"
        + _alternation(_KIN_WORDS_ES)
        + r")(?![\w-])"
        + _SEP,
        re.IGNORECASE,
    )
    TITLE_KIN_CUE: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w'’])(?:" + _alternation(_TITLE_KIN) + r")(?!['’])(?![\w-])[ \t]+",
        re.IGNORECASE,
    )
    POSSESSIVE_KIN: ClassVar[re.Pattern[str]] = re.compile(
        r"['’]s[ \t]+(?:" + _alternation([*_KIN_PHRASES, *_KIN_WORDS]) + r")(?![\w-])",
        re.IGNORECASE,
    )
    # "the daughter of robert chen": a kin or role word, then "of" and the person.
    KIN_OF_CUE: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:" + _alternation([*_KIN_PHRASES, *_KIN_WORDS]) + r")[ \t]+of[ \t]+",
        re.IGNORECASE,
    )
    # A lower-case self-introduction needs a first and last name that end the clause:
    # "this is maria gonzalez, …", "hi its kevin ramos from room 12".
    SELF_END: ClassVar[re.Pattern[str]] = re.compile(
        r"[ \t]*(?:[,.!?;:]|$|[ \t](?:from|here|calling|again|and[ \t]+i)\b)"
    )
    PATIENT_CUE: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:patient|pt\.?|paciente)(?!['’])(?![\w-])" + _SEP, re.IGNORECASE
    )
    SELF_CUE: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:i['’]?m|i[ \t]+am|this[ \t]+is|here[ \t]+is|it['’]?s[ \t]+me|soy"
        r"|(?:hi|hey|hello)[ \t]*,?[ \t]+it['’]?s)"
        r"[ \t]*,?[ \t]+",
        re.IGNORECASE,
    )
    NAME_CUE: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w])(?:name(?:['’]s|[ \t]+is|[ \t]+was|[ \t]*:|[ \t]+-)|named|goes[ \t]+by"
        r"|me[ \t]+llamo|se[ \t]+llama|(?:mi|su)[ \t]+nombre[ \t]+es|nombre[ \t]*:)"
        r"[ \t]*:?[ \t]*",
        re.IGNORECASE,
    )
    # "- Maria G." or "Thanks, Maria" closing a line or the message.
    SIGN_OFF_CUE: ClassVar[re.Pattern[str]] = re.compile(
        r"(?:^|(?<=[\n.!?]))[ \t]*(?:[-–—~]+[ \t]*|(?:thanks|thank[ \t]+you|thx|ty"
        r"|(?:best|kind|warm|warmest)[ \t]+regards|regards|sincerely|cheers|best|respectfully"
        r"|warmly|love|blessings)[ \t]*[,.!]*[ \t]*(?:\r?\n[ \t]*)?)",
        re.IGNORECASE,
    )
    END_OF_LINE: ClassVar[re.Pattern[str]] = re.compile(r"[^\w\n]*+(?:\n|$)")
    # A name immediately before a birth cue: "Harold Finch DOB 1/2/50", "Ana Silva, born 1990".
    _NAME_WORD = r"[^\W\d_][^\W\d_'’-]*+(?:['’-][^\W\d_]++)*+"
    DOB_AFTER: ClassVar[re.Pattern[str]] = re.compile(
        r"(?<![\w'’-])(?P<name>(?:" + _NAME_WORD + r"[ \t]+){0,2}" + _NAME_WORD + r")"
        r"[ \t]*[,(\[:\-–]?[ \t]*(?i:d\.?o\.?b\.?|d/o/b|date[ \t]+of[ \t]+birth|birth[ \t]?date"
        r"|born(?=[ \t]+(?:on[ \t]+|in[ \t]+)?(?:\d|jan|feb|mar|apr|may|jun|jul|aug|sep|oct"
        r"|nov|dec)))(?![a-z])"
    )
    TOKEN: ClassVar[re.Pattern[str]] = re.compile(r"[ \t]*(?P<tok>" + _NAME_WORD + r")(?P<dot>\.)?")
    BARE_NAME_WORD: ClassVar[re.Pattern[str]] = re.compile(_NAME_WORD)
    WORD_AFTER: ClassVar[re.Pattern[str]] = re.compile(r"[ \t]+(?P<tok>[^\W\d_]++)")

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
    ) -> list[RecognizerResult]:
        """Return the name span of every person the text itself marks as a person."""
        if entities and self.ENTITY not in entities:
            return []
        found: dict[tuple[int, int], float] = {}

        def add(span: tuple[int, int] | None, capitalised_score: float) -> None:
            if span is None:
                return
            score = capitalised_score if text[span[0]].isupper() else self.SCORE_LOWERCASE
            found[span] = max(score, found.get(span, 0.0))

        for match in self.KIN_CUE.finditer(text):
            add(self._read_name(text, match.end(), lowercase_min=1), self.SCORE_CAPITALISED)
        for match in self.KIN_CUE_ES.finditer(text):
            add(self._read_name(text, match.end(), lowercase_min=None), self.SCORE_CAPITALISED)
        for match in self.TITLE_KIN_CUE.finditer(text):
            add(self._read_name(text, match.end(), lowercase_min=1), self.SCORE_CAPITALISED)
        for match in self.KIN_OF_CUE.finditer(text):
            add(self._read_name(text, match.end(), lowercase_min=2), self.SCORE_CAPITALISED)
        for match in self.PATIENT_CUE.finditer(text):
            # "patient portal" vs "pt john smith": lower-case needs a first and last name.
            add(self._read_name(text, match.end(), lowercase_min=2), self.SCORE_CAPITALISED)
        for match in self.NAME_CUE.finditer(text):
            add(self._read_name(text, match.end(), lowercase_min=1), self.SCORE_CAPITALISED)
        for match in self.SELF_CUE.finditer(text):
            span = self._read_name(text, match.end(), lowercase_min=None)
            if span is None:
                lowered = self._read_name(text, match.end(), lowercase_min=2)
                if lowered is not None and self.SELF_END.match(text, lowered[1]):
                    span = lowered
            # "This is Riverside's new clinic" is not a person; "this is Tyler's mom" is.
            if (
                span is not None
                and text.startswith(("'s", "’s"), span[1])
                and not self.POSSESSIVE_KIN.match(text, span[1])
            ):
                continue
            add(span, self.SCORE_SELF)
        for match in self.SIGN_OFF_CUE.finditer(text):
            span = self._read_name(text, match.end(), lowercase_min=None)
            if span is not None and self.END_OF_LINE.match(text, span[1]):
                add(span, self.SCORE_SELF)
        for match in self.DOB_AFTER.finditer(text):
            add(self._name_before_birth_cue(text, match), self.SCORE_CAPITALISED)
        results = [self._result(start, end, score) for (start, end), score in found.items()]
        # Two cues can yield "Tyler" and "Tyler Smith"; keep the longer one.
        return sorted(self.remove_duplicates(results), key=lambda r: (r.start, r.end))

    def _read_name(self, text: str, pos: int, lowercase_min: int | None) -> tuple[int, int] | None:
        """Read up to MAX_TOKENS name tokens from `pos`; None when they do not look like a name.

        `lowercase_min` is how many tokens a lower-case name needs (None: must be capitalised).
        """
        start = end = -1
        count = 0
        capitalised = False
        skipped_honorific = False
        while count < self.MAX_TOKENS:
            match = self.TOKEN.match(text, pos)
            if match is None:
                break
            if count and match.start("tok") == pos:
                break  # tokens must be separated by blanks
            token = match.group("tok")
            lower = token.lower()
            if count == 0 and lower in self.CLINICIAN_TITLES:
                return None
            if count == 0 and lower in self.HONORIFICS and not skipped_honorific:
                skipped_honorific = True
                pos = match.end()
                continue
            possessive = lower.endswith(("'s", "’s"))
            if possessive:
                token, lower = token[:-2], lower[:-2]
            is_initial = len(token) == 1 and token.isupper() and match.group("dot") is not None
            if count == 0:
                capitalised = token[0].isupper()
                if capitalised and len(token) < 2:
                    return None
                if not capitalised and lowercase_min is None:
                    return None
            if not is_initial and not self._name_like(token, first=count == 0):
                if count == 0:
                    return None
                break
            if count and token[0].isupper() != capitalised and not is_initial:
                break
            if count == 0:
                start = match.start("tok")
            end = match.start("tok") + len(token) + (1 if is_initial else 0)
            count += 1
            pos = end
            if possessive or is_initial or match.group("dot"):
                break
        if count == 0:
            return None
        if not capitalised and lowercase_min is not None and count < lowercase_min:
            return None
        if self._staff_or_org_follows(text, end):
            return None
        return start, end

    def _name_like(self, token: str, first: bool) -> bool:
        lower = token.lower()
        if token.istitle() and lower in self.TITLE_CASE_NAMES:
            return True
        if lower in self.STOP_WORDS or lower in self.ORG_WORDS or lower in self.CLINICIAN_TITLES:
            return False
        if token.islower():
            # Lower-case verbs and adverbs after a name ("tyler fractured", "tyler really").
            if len(token) > 5 and lower.endswith(("ing", "ed")):
                return False
            if not first and len(token) > 4 and lower.endswith("ly"):
                return False
        return len(token) >= 2

    def _staff_or_org_follows(self, text: str, end: int) -> bool:
        if self.CREDENTIAL_AFTER.match(text, end):
            return True
        word = self.WORD_AFTER.match(text, end)
        return word is not None and word.group("tok").lower() in self.ORG_WORDS

    def _name_before_birth_cue(self, text: str, match: re.Match[str]) -> tuple[int, int] | None:
        offset = match.start("name")
        words = [(m.start(), m.group()) for m in self.BARE_NAME_WORD.finditer(match.group("name"))]
        # "Tyler's DOB" names Tyler; the possessive itself is not part of the name.
        last_start, last = words[-1]
        if last.lower().endswith(("'s", "’s")):
            words[-1] = (last_start, last[:-2])
        # Drop leading words that cannot be part of a name ("patient", "my", "Yesterday").
        while words and not self._name_like(words[0][1], first=True):
            words.pop(0)
        if not words or any(not self._name_like(word, first=False) for _, word in words):
            return None
        capitalised = [word[0].isupper() for _, word in words]
        # Lower-case needs exactly a first and a last name: "john smith dob".
        if not all(capitalised) and (any(capitalised) or len(words) != 2):
            return None
        start = offset + words[0][0]
        end = offset + words[-1][0] + len(words[-1][1])
        before = text[max(0, start - 12) : start].lower().rstrip(" \t.")
        if before.endswith(tuple(self.CLINICIAN_TITLES)):
            return None
        return start, end
