"""English wording signals: medical emergencies by kind, advice, complaint, human, spam.

Emergency rules are tuned for recall: a false alarm costs a safety reply and
an urgent case a human closes in a minute; a miss can cost a life. The patterns are
phrase-level so that everyday idioms ("kill time", "stroke of luck", "my phone is dying")
do not fire.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from nlu.models import Signal

_F = re.IGNORECASE

# "Now"-ness turns a symptom into a possible emergency.
_NOW = r"(?:right now|rn|now|currently|just|suddenly|sudden|all of a sudden|won'?t stop|severe|crushing)"
_WHO = r"(?:i|i'm|im|he|she|they|he's|she's|hes|shes|my \w+|someone|somebody|(?:my )?(?:son|daughter|baby|kid|child|husband|wife|mom|dad|mother|father|friend|partner|grandma|grandpa))"

# Medical emergencies by kind (self-harm and overdoses taken are read by nlu/crisis.py
# from the language pack). The kind picks the safety text and tells staff what it is.
_EMERGENCY_KINDS: dict[str, tuple[str, ...]] = {
    "cardiac": (
        r"\bheart attack\b",
        r"\bchest (?:pain|pains|pressure|hurts|is hurting)\b.{0,40}\b(?:arm|jaw|sweat\w*|breath\w*|now|right now|severe|crushing|won'?t stop|spreading)\b",
        r"\b(?:having|has|got|getting) (?:bad |severe |sharp )?chest pains?\b",
        r"\b(?:severe|crushing|sudden) (?:chest )?(?:pain|pressure) in (?:my|his|her) chest\b|\b(?:severe|crushing|sudden) chest (?:pain|pressure)\b|\bclutching (?:his|her|my) chest\b",
        r"\bno (?:pulse|heartbeat)\b|\bcardiac arrest\b",
    ),
    "stroke": (
        # "had a stroke" alone is history ("rehab after she had a stroke"); "just had" is now.
        r"\b(?:having|has|is having|just had|think (?:i|he|she|they|my \w+) (?:had|has|is having)) a stroke\b|\b(?:showing|having|has) (?:signs|symptoms) of (?:a )?stroke\b",
        r"\bface (?:is |looks |seems |went |got )?(?:drooping|droops|droopy|crooked|lopsided)\b|\b(?:droopy|drooping|crooked|lopsided|numb) on one side\b|\bone side of (?:his|her|my|their) face\b.{0,20}\b(?:droop\w*|numb|sagging|fell|dropped)\b|\b(?:talking|speaking) (?:weird|funny|strange|slurred|garbled|drunk)\b.{0,40}\b(?:face|arm|suddenly)\b|\b(?:face|arm)\b.{0,60}\b(?:talking|speaking) (?:weird|funny|strange|slurred|garbled)\b|\b(?:face|mouth) (?:is )?drooping\b|\bdrooping on one side\b|\bslurr(?:ed|ing) (?:speech|words|his|her)\b|\b(?:speech|words) (?:is |are )?(?:slurred|garbled)\b",
        r"\b(?:suddenly |can'?t |cannot )(?:move|lift|feel) (?:his|her|my) (?:right |left )?(?:arm|leg|side)\b",
        # A sudden, severe headache ("the worst of my life") is a warning sign of a stroke
        # or a bleed in the brain (American Stroke Association).
        r"\bworst headache (?:of (?:my|his|her|their) (?:entire )?life|i'?ve ever had|ever)\b|\b(?:sudden(?:ly)?|out of nowhere|all of a sudden)\b.{0,30}\b(?:severe|terrible|excruciating|blinding|thunderclap|worst) headache\b|\b(?:severe|terrible|excruciating|blinding|thunderclap) headache\b.{0,30}\b(?:sudden(?:ly)?|out of nowhere|all of a sudden)\b",
    ),
    "breathing": (
        r"\b(?:can'?t|cannot|can not|cant|unable to|struggling to|trouble|hard to|difficulty) breath(?:e|ing)?\b|\bcan'?t catch (?:my|his|her) breath\b",
        r"\b(?:not|isn'?t|stopped|quit|stop) breath(?:e|ing)\b|\bbarely breathing\b",
        r"\bchok(?:ing|ed)\b",
        r"\b(?:lips|skin|face) (?:is |are |turning |turned )?(?:blue|purple|gray|grey)\b|\bturning blue\b",
        r"\basthma attack\b.{0,40}\b(?:not working|isn'?t working|not helping|isn'?t helping|doesn'?t help|won'?t stop|can'?t)\b|\binhaler (?:is )?(?:not|isn'?t|doesn'?t) (?:working|helping|help)\b",
    ),
    "allergy": (
        r"\banaphyla\w*\b|\bthroat (?:is )?(?:closing|swelling|closing up)\b|\bthroat (?:is )?swelling shut\b|\b(?:tongue|lips|face|throat) (?:is |are |feels? )?(?:swelling|swollen|huge|tight|closing)\b|\bepi-?pen\b|\bhives (?:everywhere|all over)\b.{0,60}\b(?:tongue|lips|throat|breath\w*)\b",
    ),
    "unconscious": (
        r"\b(?:unconscious|unresponsive|not responding|won'?t wake up|wont wake up|can'?t wake (?:him|her|them|up))\b",
        r"\b(?:passed out|collapsed|fainted)\b|\babout to pass out\b|\bfeeling faint\b",
        r"\b(?:isn'?t|is not|not|wasn'?t) waking up\b|\bcan'?t (?:wake|rouse)\b",
        # A floppy, limp or listless baby or child is a 911 sign (AAP).
        r"\b(?:baby|babies|infant|newborn|toddler|child|kid|son|daughter|\d+ (?:day|week|month)s?[- ]old)\b.{0,50}\b(?:floppy|limp|listless|lethargic|won'?t wake)\b",
    ),
    "overdose": (
        r"\b(?:overdos\w*|od'd|od'ed|o\.d\.)\b",
        r"\btook (?:too many|a (?:bunch|handful) of|a whole (?:bottle|pack)|all (?:of )?(?:my|the|his|her))\b.{0,20}\b(?:pills|tablets|meds|medication|medicine)\b",
        r"\b(?:swallowed|drank|ate)\b.{0,25}\b(?:bleach|poison|pills|battery|batteries|detergent|pod|drain cleaner|antifreeze|chemicals?)\b",
        # A child who swallowed a coin, a magnet or a battery: Poison Control runs the
        # button-battery line and advises on every swallowed object.
        r"(?<!dog )(?<!cat )(?<!puppy )(?<!kitten )(?<!pet )\b(?:swallowed|swallow|ate)\b.{0,20}\b(?:a |an |some |the |two |\d+ )?(?:coins?|magnets?|button batter(?:y|ies)|marbles?|(?:a )?(?:small )?toy|earring|screw|nail|pin|tack)\b",
        # Food, lead and sun "poisoning" name an illness, not something swallowed now.
        r"(?<!food )(?<!lead )(?<!paint )(?<!sun )\bpoison(?:ed|ing)\b(?! ivy| oak)",
        r"\b(?:got into|ate|drank|swallowed|chewed|bit into)\b.{0,20}\b(?:(?:dishwasher |laundry |detergent )?pods?|bleach|the medicine|my medicine|grandma'?s (?:pills|medicine)|the pills|cleaner|cleaning (?:stuff|products?)|lighter fluid|lamp oil|nail polish remover|rat poison|weed killer|edibles?)\b",
        r"\btook (?:too (?:many|much)|a (?:bunch|handful|lot) of|a whole (?:bottle|pack|box)(?: of)?|all (?:of )?(?:my|his|her|their|the))\b",
    ),
    "seizure": (
        r"\b(?:having|had|has|is having) (?:a )?(?:seizures?|convulsions?)\b|\bseizing\b|\bconvuls\w+\b",
    ),
    "bleeding": (
        r"\bbleeding\b.{0,20}\b(?:heavily|a lot|won'?t stop|wont stop|badly|profusely|everywhere|out)\b|\b(?:won'?t|wont|can'?t|cant) stop (?:the )?bleeding\b|\bblood everywhere\b|\b(?:coughing|throwing) up blood\b|\bvomiting blood\b|\bheavy bleeding\b",
    ),
    "violence": (
        r"\b(?:has|have|with|pointing|holding|waving) a (?:gun|knife|weapon|firearm)\b",
        r"\b(?:got|been|was|were|is|being) (?:shot|stabbed)\b|\b(?:shot|stabbed) (?:me|him|her|them|someone|at (?:me|him|her|us|them|someone|people))\b|\bactive shooter\b|\b(?:there'?s|there is) a (?:shooting|shooter)\b|\bshooting (?:at|in|happening|going on)\b",
        r"\b(?:going to|gonna|threaten\w* to|wants to|trying to|coming to) (?:kill|hurt|shoot|stab|beat)\b",
        r"\b(?:beating|attacking|hitting|choking) (?:me|us|my|her|him)\b|\bbeing (?:attacked|abused|assaulted)\b",
        r"\b(?:punched|kicked|choked|strangled|beat|beats|slapped|attacked|raped|assaulted|stabbed|threatened) (?:me|my (?:kids?|son|daughter|baby|mom|wife|husband))\b",
        # Sexual assault: care (and evidence) cannot wait, whenever it happened.
        r"\b(?:i|she|he|my (?:daughter|son|sister|friend|girlfriend|wife)) (?:was|were|got|has been|have been) (?:raped|sexually assaulted|molested|drugged and)\b|\bsexual(?:ly)? assault(?:ed)?\b.{0,30}\b(?:last night|tonight|today|yesterday|just|me)\b",
        # "hit me" needs a person who hits: "this disease hit me hard" is no assault.
        r"\b(?:he|she|they|someone|somebody|(?:my |her |his |the )?(?:husband|wife|boyfriend|girlfriend|partner|ex|dad|father|stepdad|mom|mother|brother|sister|son|daughter|uncle|man|guy|neighbou?r|patient))(?: just| always| keeps?| then)? (?:hit|hits|hitting) (?:me|my (?:kids?|son|daughter|baby|mom|wife|husband))\b|\b(?:got|been|was|gets|get) hit by (?:my|her|his|him|them|a man|someone)\b",
        r"\b(?:he|she|they)(?:'s| is| are|'re) coming (?:back|for me)\b|\bscared for my life\b|\bafraid (?:he|she|they)(?:'ll| will) (?:kill|hurt)\b",
    ),
    "injury": (
        r"\b(?:car|bike|motorcycle) (?:crash|accident|wreck)\b|\bhit by a (?:car|truck|bus)\b",
        r"\b(?:fell|fall)\b.{0,30}\b(?:can'?t (?:get up|move)|hit (?:his|her|my) head|not moving)\b",
        r"\bburn(?:ed|t|s)?\b.{0,40}\b(?:really bad|badly|severe\w*|blister\w*|white|peeling|charred|third degree|2nd degree|3rd degree)\b",
        r"\b(?:drowning|drowned|electrocuted|severe burns?|burned badly)\b",
    ),
    "pregnancy": (
        r"\bbaby (?:is )?(?:not|stopped|isn'?t) (?:moving|breathing)\b|\b(?:not|isn'?t) moving\b.{0,20}\b(?:baby|pregnan\w*)\b",
        # Fewer movements of the baby in pregnancy: ACOG advises calling at once.
        r"\b(?:can'?t|cannot|can not|don'?t|do not|didn'?t|haven'?t|have not) (?:feel|felt) (?:the|my) baby (?:move|moving|kick\w*)\b|\bbaby (?:hasn'?t|has not|didn'?t|did not) (?:moved|kicked)\b|\b(?:no|less|reduced|decreased|fewer) (?:fetal |baby )?(?:movements?|kicks)\b.{0,30}\b(?:weeks|pregnan\w*|baby)\b",
        r"\b(?:water broke|contractions)\b.{0,40}\b(?:blood|bleeding|weeks|early)\b|\bpregnant\b.{0,40}\bbleeding\b",
    ),
    # Someone saying it is an emergency: counts only when it is theirs (a person, "now").
    "general": (
        r"\b(?:this is an|it'?s an|its an|having an|medical) emergency\b|\bcall(?:ed|ing)? (?:an )?ambulance\b|\bneed an ambulance\b|\b(?:call(?:ed|ing)?|dial(?:ed|ing)?|need) 911\b",
    ),
}
EMERGENCY_KINDS: dict[str, re.Pattern[str]] = {
    kind: re.compile("|".join(f"(?:{p})" for p in patterns), _F)
    for kind, patterns in _EMERGENCY_KINDS.items()
}
EMERGENCY_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, _F) for patterns in _EMERGENCY_KINDS.values() for p in patterns
)

# Advice requests that are medical whatever words follow.
STRONG_ADVICE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, _F)
    for p in (
        r"\bside[- ]?effects?\b|\bdosage\b|\bdos(?:e|ing) of\b|\bhow (?:much|many)\b.{0,40}\b(?:should|can|do) (?:i|he|she|we|you) (?:take|give|have)\b",
        r"\bshould (?:i|he|she|we|my \w+) (?:take|stop taking|keep taking|be (?:worried|concerned)|worry|go to (?:the )?(?:er|emergency|doctor|hospital)|see a doctor|get (?:tested|checked|a test))\b",
        r"\bis it (?:safe|ok|okay|normal|bad|dangerous|harmful|serious) (?:to|for|if|that|when)\b.{0,60}\b(?:take|taking|drink|eat|pregnan\w*|breastfeed\w*|mix|dose|pills?|medic\w*|meds|symptom\w*|pain|bleed\w*|fever)\b",
        r"\b(?:symptoms?|signs?|causes?|treatments?|cure|remed(?:y|ies)|prognosis) (?:of|for)\b",
        r"\bwhat (?:is|are) (?:the )?(?:best |right |normal )?(?:treatment|medicine|medication|cure|remedy|dose|range)\b",
        r"\b(?:could|can|might) (?:it|this|that) be (?:cancer|serious|an? infection|strep|covid|the flu|a tumou?r|diabetes)\b",
        r"\bis (?:this|it|that) (?:cancer|contagious|an infection|infected|strep|broken|fractured)\b",
        r"\bwhat does (?:my|this|a|the) .{0,30}(?:result|diagnosis|test|level|number|reading|scan)s? mean\b",
        r"\b(?:interact(?:ion|ions)?|mix(?:ing)?|combine|combining) with\b.{0,40}\b(?:medic\w*|meds|pills|drugs?|alcohol)\b",
        r"\bat my age\b|\bnormal (?:range|level)s?\b|\bhome remed(?:y|ies)\b",
        r"\bwhile (?:on|taking) (?:antibiotics|medication|meds|pills|birth control|chemo|steroids)\b",
        # Care of a baby or child ("how often should a newborn eat") is a clinical question.
        r"\bhow (?:often|much|long|many (?:times|hours|ounces|oz))\b.{0,20}\b(?:should|does|do|can|is) (?:a|my|an|the|our) (?:baby|newborn|infant|toddler|child|kid|(?:\d+|one|two|three|six)[- ]?(?:day|week|month|year)[- ]?old)\b",
        # How safe or how well a vaccine, medicine, test or procedure works is a clinical
        # question, not one about where to get it.
        r"\bhow (?:safe|effective|dangerous|risky|accurate|reliable|painful) (?:is|are)\b.{0,40}\b(?:vaccines?|vaccinations?|shots?|boosters?|jabs?|medic\w*|meds|drugs?|pills?|treatments?|surgery|surgeries|procedures?|tests?|screenings?|mammograms?|x-?rays?|scans?|mri|chemo\w*|radiation|anesthesia|epidurals?)\b",
        r"\b(?:is|are) (?:the |this |that |these |those |a |an )?(?:[\w-]+ ){0,3}(?:vaccines?|shots?|boosters?|jabs?|medications?|meds|drugs?|pills?|tests?) (?:really )?(?:safe|effective|dangerous|accurate|reliable|worth it)\b",
    )
)

# Weak advice cues: medical only together with a health term.
WEAK_ADVICE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, _F)
    for p in (
        r"\b(?:do|does|did) (?:i|he|she|my \w+) (?:need|have)\b",
        r"\bis (?:it|this|that) (?:normal|serious|bad|dangerous|ok|okay|safe)\b",
        r"\bshould (?:i|he|she|we)\b|\bcan (?:i|he|she|you) (?:take|use|get|have|eat|drink)\b",
        r"\bwhat (?:should|can) (?:i|we) do\b|\bhow (?:do|can|should) (?:i|you) (?:treat|get rid|stop|cure|prevent|know)\b",
        r"\bwhy (?:do|does|is|am|are)\b|\bwhat (?:causes|happens)\b|\bhow long (?:does|will|should|until)\b",
        r"\b(?:management|treatment|work-?up|follow-?up|prognosis|guidelines?|protocol|therapy|recs|recommendations?)\b.{0,12}\b(?:of|for|in|after)\b",
        r"\b(?:is|are)\b.{0,40}\b(?:poisonous|toxic)\b|\binteractions? between\b",
    )
)
_QUESTION = re.compile(r"\?")

COMPLAINT_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, _F)
    for p in (
        r"\b(?:rude|terrible|horrible|awful|worst|disgusting|unacceptable|ridiculous|incompetent|unprofessional|negligen\w*|pathetic|appalling|atrocious|useless|dreadful)\b",
        r"\bnever (?:again|coming back|going back)\b|\bfed up\b|\bsick (?:and tired )?of\b|\bshame on\b",
        r"\bwait(?:ed|ing)\b.{0,25}\b(?:\d+|two|three|four|five|six|several|many) (?:hours?|hrs?)\b",
        r"\b(?:no ?one|nobody|no body)\b.{0,20}\b(?:called|calls|answer\w*|return\w*|responded|respond\w*|cares|helped|listen\w*|came|showed up|bothered)\b",
        r"\b(?:frustrat\w*|annoy\w*|furious|angry|upset|unhappy|not happy|fed up|infuriat\w*|outrage\w*|waste of (?:my )?time)\b",
        r"\bstill (?:haven'?t|have not|hasn'?t|has not|no|waiting)\b.{0,40}\b(?:refund|call ?back|response|answer|bill|results|reply|heard)\b",
        r"\b(?:crash(?:es|ed|ing)?|broken|doesn'?t work|never works|keeps? (?:crashing|failing))\b.{0,30}\b(?:every|always|again|app|website|portal|site)\b|\bevery single time\b",
        r"\b(?:1|one|zero|0)[- ]stars?\b|\b(?:complain\w*|lawsuit|lawyer|attorney|sue you|suing)\b",
        r"\b(?:so |very |really )?disappoint\w*\b|\bmistreat\w*\b|\bignored\b|\bovercharg\w*\b|\bfilthy\b|\bdirty\b",
        r"\b(?:lost|stole|stolen)\b.{0,20}\b(?:my|his|her|our)(?: \w+'s)?(?: car)? (?:keys|car|bag|luggage|purse|belongings|phone|wallet|dentures|glasses|hearing aids?|ring|clothes)\b",
    )
)

HUMAN_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, _F)
    for p in (
        r"\b(?:speak|talk|chat)\w* (?:to|with) (?:a |an |some )?(?:real |live |actual )?(?:person|human|someone|somebody|agent|representative|rep|staff|people)\b",
        r"\breal (?:person|human)\b|\b(?:are you|is this) a (?:bot|robot|machine)\b|\bnot a bot\b",
    )
)

SPAM_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, _F)
    for p in (
        r"\b(?:buy|cheap|get)\b.{0,20}\b(?:followers|likes|views|subscribers)\b",
        r"\b(?:crypto|bitcoin|btc|forex|nft|airdrop|binary options)\b.{0,60}\b(?:profit|invest\w*|earn|returns?|dm|trade|trading|signals?|double)\b",
        r"\b(?:dm|inbox|message|whatsapp|telegram) me\b.{0,40}\b(?:deal|offer|promo|invest\w*|earn|money|cash|profit|business)\b",
        r"\bget rich\b|\bmake \$?\d+k?\b.{0,20}\b(?:day|week|month|daily|weekly)\b|\bwork from home\b.{0,30}\b(?:earn|\$)\b",
        r"\b(?:click here|check (?:out )?my (?:profile|page|bio|link))\b|\blink in (?:my )?bio\b",
        r"\b(?:free (?:gift|iphone|giveaway)|giveaway|you(?:'ve| have)? won|claim your (?:prize|reward))\b",
        r"\b(?:promo code|discount code|casino|onlyfans|viagra|cialis|escort)\b",
        r"\bno prescription (?:needed|required|necessary)\b|\bdiscreet (?:shipping|delivery)\b|\bcheap (?:meds|pills|rx)\b",
        r"\b(?:hot )?singles (?:in|near) (?:your|you)\b|\blonely\b.{0,20}\b(?:chat|meet)\b.{0,20}\b(?:tonight|now)\b",
    )
)


def _union(patterns: Sequence[re.Pattern[str]]) -> re.Pattern[str]:
    """One pattern for a whole table: one scan of the text instead of one per pattern."""
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), _F)


_STRONG_ADVICE = _union(STRONG_ADVICE_PATTERNS)
_WEAK_ADVICE = _union(WEAK_ADVICE_PATTERNS)
_COMPLAINT = _union(COMPLAINT_PATTERNS)
_HUMAN = _union(HUMAN_PATTERNS)
_SPAM = _union(SPAM_PATTERNS)


def normalize_quotes(text: str) -> str:
    """Fold typographic apostrophes so "can’t" matches "can't"."""
    return text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")


def emergency_kinds(text: str) -> frozenset[str]:
    """The kinds of medical emergency the wording names (apostrophes folded first)."""
    text = normalize_quotes(text)
    return frozenset(kind for kind, pattern in EMERGENCY_KINDS.items() if pattern.search(text))


def wording_signals(text: str) -> frozenset[Signal]:
    """Advice, complaint, human and spam signals the wording alone shows (English).

    Emergencies are weighed by the engine: `emergency_kinds` and nlu/crisis.py.
    """
    text = normalize_quotes(text)
    found: set[Signal] = set()
    if _STRONG_ADVICE.search(text):
        found.add(Signal.MEDICAL_ADVICE)
    if _COMPLAINT.search(text):
        found.add(Signal.COMPLAINT)
    if _HUMAN.search(text):
        found.add(Signal.HUMAN_REQUESTED)
    if _SPAM.search(text):
        found.add(Signal.SPAM)
    return frozenset(found)


def asks_for_advice(text: str, *, question_counts: bool = True) -> bool:
    """A weak advice cue: medical advice when the message also names a health term.

    A bare question mark counts only when asked for: "do you do mammograms?" is a
    question about a service, "is this rash normal?" about a body.
    """
    text = normalize_quotes(text)
    return bool(_WEAK_ADVICE.search(text)) or (question_counts and bool(_QUESTION.search(text)))
