"""Self-harm and overdose crises in a person's own words, from a language pack's cue groups.

Each cue group (intent, plan, means, farewell, overdose…) has a weight; a message is a
crisis when its matches add up to 2: one outright statement ("i want to die"), or two
warning signs together ("bought the rope today" + "it's almost over"). Idioms and negated
cues are blanked out first ("this traffic is killing me", "i'm not suicidal"). Frames then
set apart what is not a person in crisis now: a word for the subject in news, fiction or a
general question ("suicide rates went up"), a past event told as resolved ("five years ago
… thank you"), and hyperbole with laughter ("this line is so long i want to die lol").
A set-apart message is still taken out of public view, as health information.

Tuned for recall: a false alarm costs a safety reply and an urgent case a human closes in
a minute; a miss can cost a life.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

from nlu.languages import LanguagePack

CRISIS_SCORE = 2
# Groups that only name the subject: news, fiction and general questions use them too.
_TOPIC_GROUPS = frozenset({"topic", "overdose_topic"})
# Groups a joke can carry; plans, means, goodbyes and overdoses are never taken as jokes.
_HYPERBOLE_GROUPS = frozenset({"intent", "topic", "hopeless", "srl_ideation", "srl_warning"})
_OVERDOSE_GROUPS = frozenset({"overdose", "overdose_topic"})
_MAX_MATCHES_PER_GROUP = 2


@dataclass(frozen=True, slots=True)
class Crisis:
    """What the crisis cues found: the kinds (self_harm, overdose), the groups, any frame."""

    kinds: frozenset[str]
    groups: tuple[str, ...]
    set_apart: str | None = None  # the frame that made it not a crisis now

    @property
    def found(self) -> bool:
        """A crisis now: an emergency."""
        return bool(self.kinds)

    @property
    def mentioned(self) -> bool:
        """Crisis words were there, even if a frame set them apart."""
        return bool(self.groups) or self.set_apart is not None


NO_CRISIS = Crisis(frozenset(), ())


def blank(text: str, pack: LanguagePack) -> str:
    """The text with idioms and negated cues replaced by spaces (offsets kept)."""
    if pack.neutral is None:
        return text
    return pack.neutral.sub(lambda m: " " * len(m.group()), text)


def frame(text: str, pack: LanguagePack, name: str) -> bool:
    """True when the pack's frame `name` is in the text."""
    pattern = pack.frames.get(name)
    return pattern is not None and pattern.search(text) is not None


def resolved_past(text: str, pack: LanguagePack) -> bool:
    """A past event told as over: "years ago … thank you", with nothing happening now."""
    return (
        frame(text, pack, "past")
        and frame(text, pack, "resolved")
        and not frame(text, pack, "present")
    )


def history(text: str, pack: LanguagePack) -> bool:
    """A past event or a long-standing condition told with nothing said to happen now."""
    return (
        (frame(text, pack, "past") or frame(text, pack, "chronic"))
        and not frame(text, pack, "present")
        and not frame(text, pack, "acute")
    )


def seconded(cues: Crisis) -> Crisis:
    """One warning sign that the intent classifier's emergency vote seconds: two signs
    together make a crisis ("staring at the bottle of pills"). Naming the subject alone
    (topic words) or a sign set apart (news, past, a joke) is not seconded."""
    signs = frozenset(cues.groups) - _TOPIC_GROUPS
    if cues.found or cues.set_apart is not None or not signs:
        return cues
    kinds = {"overdose"} if signs & _OVERDOSE_GROUPS else set()
    if signs - _OVERDOSE_GROUPS:
        kinds.add("self_harm")
    return Crisis(frozenset(kinds), cues.groups)


def assess(text: str, pack: LanguagePack, *, native: LanguagePack | None = None) -> Crisis:
    """Weigh the crisis cues of one text (apostrophes already folded to ').

    `native` is the pack of the language the text is in, when `pack` is another one (read
    as well, so that a misread language costs no safety reply): its idioms and frames
    apply, and the other pack's topic words (cognates such as "suicidio") are not read.
    """
    native = native or pack
    cleared = blank(blank(text, native), pack) if native is not pack else blank(text, pack)
    foreign = native is not pack
    pack_for_frames = native
    score = 0
    groups: list[str] = []
    for group in pack.crisis:
        if foreign and group.name in _TOPIC_GROUPS:
            continue
        matches = len(list(islice(group.pattern.finditer(cleared), _MAX_MATCHES_PER_GROUP)))
        if matches:
            groups.append(group.name)
            score += group.weight * matches
    if score < CRISIS_SCORE:
        # A cue blanked out as negated or an idiom ("i'm not suicidal") still tells the
        # policy not to take a classifier's vote for an emergency.
        negated = not groups and cleared != text and not foreign
        return Crisis(frozenset(), tuple(groups), "neutral" if negated else None)
    hit = frozenset(groups)
    frames = pack_for_frames
    if hit <= _TOPIC_GROUPS:
        # Naming the subject in news, fiction or a general question ("what should someone
        # do if a friend talks about suicide") is not a crisis now.
        for name in ("news", "fiction", "hypothetical"):
            if frame(text, frames, name):
                return Crisis(frozenset(), tuple(groups), name)
    if resolved_past(text, frames):
        return Crisis(frozenset(), tuple(groups), "past")
    if hit <= _HYPERBOLE_GROUPS and frame(text, frames, "laughter"):
        return Crisis(frozenset(), tuple(groups), "laughter")
    kinds = set()
    if hit & _OVERDOSE_GROUPS:
        kinds.add("overdose")
    if hit - _OVERDOSE_GROUPS:
        kinds.add("self_harm")
    return Crisis(frozenset(kinds), tuple(groups))
