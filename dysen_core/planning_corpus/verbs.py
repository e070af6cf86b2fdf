"""The corpus's verbs, by the kinds of agent and target they take, with the states they imply (issue 10).

An entry is ``lemma [tail…] [~particle] [/prep…]``: "sit down /at" is the predicate "sits down at" with a
target, "pick ~up" a separable phrasal verb ("picks the ball up"), "fall asleep" an intransitive verb with a
fixed complement. The dynamic-shapes actions come from ``dysen_core.shapes.vocabulary``; where a shapes
predicate is also an everyday one ("jumps"), the two are one entry.
"""

from __future__ import annotations

from dataclasses import replace

from ..shapes.vocabulary import COLOURS, SHAPES, TRANSITIVE, Action, can_do
from .lexicon import Effect, Release, Role, Verb


def _verbs(spec: str, agents: str, objects: str = "", **fields) -> tuple[Verb, ...]:
    """One Verb per comma-separated entry of ``spec``, all taking the given agent and target kinds."""
    verbs = []
    for entry in spec.split(","):
        words, _, prep = entry.strip().partition("/")
        lemma, *rest = words.split()
        particle = " ".join(w[1:] for w in rest if w.startswith("~"))
        tail = " ".join(w for w in rest if not w.startswith("~"))
        verbs.append(Verb(lemma=lemma, agents=frozenset(agents.split()), objects=frozenset(objects.split()),
                          tail=tail, particle=particle, prep=prep.strip(), **fields))
    return tuple(verbs)


def attr(value: str, slot: str, on: Role = "target") -> Effect:
    return Effect(slot=slot, value=value, subject=on)


def rel(label: str, slot: str) -> Effect:
    """A relation from the agent to the target."""
    return Effect(slot=slot, value=label, subject="agent", obj="target")


HOLDING = rel("holding", "holding")
LET_GO = Release("holding", obj="target")
WEARING = rel("wearing", "wearing")
LEFT_PLACE = Release("place")
STOOD = Release("seat")
PLACES_TO_PUT = ("in the bag", "on the table", "on the shelf", "in the box", "into the basket", "on the counter",
                 "in the car", "into the drawer", "on the desk")

P = "person"  # people, alone or in groups
PC = "person crowd"
ANIMATE = "person animal"
MOVER = "person walker"  # people and animals that walk and run
PET = "person pet"

EVERYDAY: tuple[Verb, ...] = (
    # holding, carrying, letting go
    *_verbs("pick ~up, grab, take", P, "holdable", post=(HOLDING,)),
    *_verbs("catch", "person dog", "ball", post=(HOLDING,)),
    *_verbs("fetch", "dog", "ball holdable", post=(HOLDING,), moving=True),
    *_verbs("take ~out", P, "drink food holdable", post=(HOLDING,)),
    *_verbs("hold, carry", P, "holdable", durative=True, background=True),
    *_verbs("drop, put ~down, set ~down, put ~away", P, "holdable", pre=(HOLDING,), ends=(LET_GO,)),
    *_verbs("put", P, "holdable", ends=(LET_GO,), destinations=PLACES_TO_PUT),
    *_verbs("throw, toss", P, "ball throwable", ends=(LET_GO,)),
    *_verbs("lift", P, "weight holdable", repeatable=True),
    *_verbs("shake", P, "drink container", repeatable=True),
    *_verbs("swing", P, "tool holdable"),
    *_verbs("hand ~out", P, "document"),
    # clothing
    *_verbs("put ~on", P, "clothing", post=(WEARING,)),
    *_verbs("take ~off", P, "clothing", pre=(WEARING,), ends=(Release("wearing", obj="target"),)),
    *_verbs("wear", P, "clothing", durative=True, background=True),
    *_verbs("tie", P, "pair clothing", post=(attr("tied", "tied"),)),
    *_verbs("untie", P, "pair", pre=(attr("tied", "tied"),), post=(attr("untied", "tied"),)),
    *_verbs("zip ~up, button ~up", P, "zippable", post=(attr("closed", "openness"),)),
    *_verbs("hang ~up", P, "garment", ends=(Release("wearing", obj="target"), LET_GO)),
    *_verbs("fold", P, "clothing document", post=(attr("folded", "folded"),)),
    # food and drink
    *_verbs("eat", ANIMATE, "food", durative=True),
    *_verbs("taste, smell, sniff, share, buy, order", P, "food drink"),
    *_verbs("drink, sip", P, "drink", durative=True),
    *_verbs("take a sip /of", P, "drink"),
    *_verbs("take a bite /of", P, "food"),
    *_verbs("chop, dice", P, "choppable", post=(attr("chopped", "cut"),)),
    *_verbs("slice, cut", P, "choppable food", post=(attr("sliced", "cut"),)),
    *_verbs("peel", P, "fruit choppable", post=(attr("peeled", "peeled"),)),
    *_verbs("fry, grill, roast", P, "cookable", post=(attr("cooked", "cooked"),)),
    *_verbs("bake", P, "cookable dough", post=(attr("baked", "cooked"),)),
    *_verbs("cook", P, "cookable", durative=True, post=(attr("cooked", "cooked"),)),
    *_verbs("stir, mix, whisk", P, "cookable", durative=True),
    *_verbs("knead, roll ~out", P, "dough", durative=True),
    *_verbs("crack", P, "cookable", post=(attr("cracked", "cracked"),)),
    *_verbs("flip", P, "cookable", repeatable=True),
    *_verbs("heat ~up", P, "cookable drink", post=(attr("hot", "temperature"),)),
    *_verbs("squeeze", P, "squeezable fruit"),
    *_verbs("add, sprinkle", P, "spice cookable"),
    *_verbs("pour", P, "pourable", destinations=("into a glass", "into a cup", "into a bowl", "into a mug")),
    *_verbs("unwrap", P, "wrappable", post=(attr("unwrapped", "wrapped"),)),
    *_verbs("wrap", P, "wrappable", post=(attr("wrapped", "wrapped"),)),
    # containers, doors, devices
    *_verbs("fill", P, "fillable", post=(attr("full", "fill"),)),
    *_verbs("empty", P, "fillable", post=(attr("empty", "fill"),)),
    *_verbs("fill ~up", P, "fillable", post=(attr("full", "fill"),)),
    *_verbs("open", P, "openable door", pre=(attr("closed", "openness"),), post=(attr("open", "openness"),)),
    *_verbs("close, shut", P, "openable door", pre=(attr("open", "openness"),), post=(attr("closed", "openness"),)),
    *_verbs("slam", P, "door", post=(attr("closed", "openness"),)),
    *_verbs("lock", P, "door drivable", post=(attr("locked", "lock"),)),
    *_verbs("unlock", P, "door drivable", pre=(attr("locked", "lock"),), post=(attr("unlocked", "lock"),)),
    *_verbs("knock /on", P, "door", repeatable=True),
    *_verbs("pack, unpack", P, "packable"),
    *_verbs("turn ~on, switch ~on", P, "device", pre=(attr("off", "power"),), post=(attr("on", "power"),)),
    *_verbs("turn ~off, switch ~off", P, "device", pre=(attr("on", "power"),), post=(attr("off", "power"),)),
    *_verbs("unplug, fix, repair", P, "device machine"),
    *_verbs("answer, check", P, "phone"),
    *_verbs("answer", P, "door"),
    *_verbs("mute", P, "device audio"),
    *_verbs("type /on", P, "device", durative=True),
    *_verbs("light", P, "candle", post=(attr("lit", "flame"),)),
    *_verbs("blow ~out", P, "candle", pre=(attr("lit", "flame"),), post=(attr("out", "flame"),)),
    *_verbs("blow ~up", P, "inflatable", post=(attr("inflated", "inflated"),)),
    # reading, writing, art
    *_verbs("read, study", P, "document", durative=True),
    *_verbs("write, sign", P, "document"),
    *_verbs("flip /through", P, "document"),
    *_verbs("draw", P, "artwork", durative=True),
    *_verbs("paint", P, "artwork cleanable", durative=True, post=(attr("painted", "paint"),)),
    *_verbs("hang", P, "artwork", destinations=("on the wall", "above the sofa", "in the hallway")),
    *_verbs("stack, sort, count", P, "stackable"),
    # cleaning
    *_verbs("wash, scrub, rinse, wipe", P, "cleanable washable", post=(attr("clean", "clean"),)),
    *_verbs("wash", P, "body food", post=(attr("clean", "clean"),)),
    *_verbs("dry", P, "body cleanable", post=(attr("dry", "wet"),)),
    *_verbs("brush, comb", P, "body"),
    *_verbs("sweep, mop, vacuum", P, "sweepable", durative=True, post=(attr("clean", "clean"),)),
    *_verbs("iron", P, "cleanable clothing", durative=True),
    *_verbs("stretch, raise, lower", P, "body"),
    # plants and the garden
    *_verbs("water", P, "plant", post=(attr("watered", "watered"),)),
    *_verbs("plant", P, "plant"),
    *_verbs("trim, prune", P, "cover"),
    *_verbs("mow", P, "lawn", durative=True, post=(attr("mowed", "mowed"),)),
    *_verbs("rake", P, "rakeable", durative=True),
    *_verbs("pick", P, "bloomer fruit"),
    # animals as targets
    *_verbs("feed, pet, photograph, film", P, "animal animals"),
    *_verbs("walk", P, "dog", durative=True, moving=True),
    *_verbs("brush, groom", P, "pet horse"),
    *_verbs("lead, saddle", P, "horse"),
    *_verbs("chase", MOVER, "walker bird ball", durative=True, moving=True),
    *_verbs("bark /at, growl /at", "dog", "person animal door"),
    *_verbs("chew", "dog", "holdable", durative=True),
    *_verbs("pounce /on", "cat", "holdable ball"),
    *_verbs("peck /at", "bird", "food"),
    # people as targets
    *_verbs("hug, greet, help, thank, call, tickle, kiss, high-five", P, "person"),
    *_verbs("follow", ANIMATE, "person animal", durative=True, moving=True),
    *_verbs("watch", ANIMATE, "person animal", durative=True),
    *_verbs("wave /at, smile /at, point /at, wink /at, shout /at", P, "person animal"),
    *_verbs("talk /to, listen /to, dance /with, argue /with", P, "person", durative=True),
    *_verbs("play /with", PET, "person pet ball", durative=True),
    *_verbs("join", P, "person"),
    *_verbs("run /after, run /behind", MOVER, "person walker", durative=True, moving=True),
    *_verbs("jog /alongside, walk /beside", "person dog", "person dog", durative=True, moving=True),
    *_verbs("talk /on", P, "phone", durative=True, background=True),
    *_verbs("hum, whistle, smile", P, durative=True, background=True),
    *_verbs("wait", P, durative=True, posture=True),
    *_verbs("wait /for", P, "person vehicle", durative=True, posture=True),
    *_verbs("look /at, stare /at", ANIMATE, "holdable person animal artwork vehicle", durative=True),
    *_verbs("take a photo /of, take a picture /of", P, "person animal vehicle place"),
    *_verbs("listen /to", P, "music audio", durative=True, background=True),
    *_verbs("dance /to", PC, "music audio", durative=True, moving=True),
    # sports and play
    *_verbs("kick, hit, bounce", P, "ball", repeatable=True),
    *_verbs("pass, return", P, "ball", ends=(LET_GO,)),
    *_verbs("serve", P, "ball food drink", ends=(LET_GO,)),
    *_verbs("dribble", P, "ball", durative=True),
    *_verbs("roll", P, "ball"),
    *_verbs("juggle", P, "ball fruit", durative=True),
    *_verbs("play", P, "game instrument music", durative=True),
    *_verbs("play", "crowd", "music", durative=True),
    *_verbs("tune", P, "instrument"),
    *_verbs("strum", P, "instrument", durative=True),
    *_verbs("sing, hum, whistle", P, "music", durative=True),
    *_verbs("ride", P, "rideable horse", durative=True, posture=True, moving=True),
    *_verbs("drive, park", P, "drivable"),
    *_verbs("row, paddle", P, "boat", durative=True, moving=True),
    *_verbs("push, pull", P, "pushable", durative=True, moving=True),
    *_verbs("fly", P, "flyable"),
    *_verbs("climb", "person climber", "ladder", durative=True, moving=True),
    *_verbs("cross", "person walker road", "crossable", moving=True),
    *_verbs("enter", PET, "room", post=(rel("in", "place"),), moving=True),
    *_verbs("leave, exit", PET, "room", pre=(rel("in", "place"),), ends=(LEFT_PLACE,), moving=True),
    *_verbs("get /out of", P, "room drivable water", ends=(LEFT_PLACE,), moving=True),
    *_verbs("get /into", P, "drivable water", post=(rel("in", "place"),), moving=True),
    *_verbs("score a goal, take a bow, take a deep breath, go jogging, go swimming", P),
    *_verbs("shake hands, hold hands", "people crowd"),
    # moving to, along and into places
    *_verbs("walk /to, run /to, hurry /to", MOVER, "place stop", post=(rel("at", "place"),), moving=True),
    *_verbs("drive /to", "person road", "place stop", post=(rel("at", "place"),), moving=True),
    *_verbs("swim /to", "person swimmer", "boat", post=(rel("at", "place"),), moving=True),
    *_verbs("walk /into, run /into, rush /into", PET, "room", post=(rel("in", "place"),), moving=True),
    *_verbs("walk /through, stroll /through, wander /through, jog /in, run /around", MOVER, "outdoors", durative=True, moving=True),
    *_verbs("walk /along, walk /down, run /down, jog /along, run /along", MOVER, "path", durative=True, moving=True),
    *_verbs("walk /across, run /across, march /across", MOVER, "open", durative=True, moving=True),
    *_verbs("skate /across", P, "open", durative=True, moving=True),
    *_verbs("gallop /across", "horse", "open", durative=True, moving=True),
    *_verbs("ride /along, cycle /along", P, "path", durative=True, moving=True),
    *_verbs("drive /along, drive /down", "person road", "path", durative=True, moving=True),
    *_verbs("swim /in, swim /across, float /in, paddle /across", "person swimmer", "water", durative=True, moving=True),
    *_verbs("dive /into, jump /into", "person swimmer dog", "water", post=(rel("in", "place"), attr("wet", "wet", on="agent")), moving=True),
    *_verbs("paddle out /into, swim out /into", P, "water", durative=True, moving=True),
    *_verbs("climb /onto, jump /onto", "person pet climber", "seat surface platform bed", post=(rel("on", "place"),), moving=True),
    *_verbs("step /onto", P, "platform", post=(rel("on", "place"),), moving=True),
    *_verbs("land /on", "person bird", "platform seat", post=(rel("on", "place"),), moving=True),
    *_verbs("climb /up, climb /down", "person climber", "ladder", durative=True, moving=True),
    *_verbs("slide /down, roll /down, run /up, walk /up", P, "slope", durative=True, moving=True),
    *_verbs("ski /down", P, "hill", durative=True, moving=True),
    *_verbs("jump /off, step /off, fall /off", PET, "seat surface platform rideable", ends=(LEFT_PLACE,), moving=True),
    *_verbs("jump /over, trip /over, leap /over", MOVER, "crossable seat", moving=True),
    *_verbs("hide /under, crawl /under, run /under", "person pet small", "seat bed surface", moving=True),
    *_verbs("hide /behind", "person pet small", "cover", moving=True),
    *_verbs("lean /against", P, "surface seat drivable platform", durative=True, posture=True),
    *_verbs("sit /on, stand /on, lie /on, rest /on", "person pet", "seat bed", durative=True, posture=True),
    *_verbs("relax /on", P, "seat bed", durative=True, posture=True),
    *_verbs("perch /on", "bird", "seat platform cover", durative=True, posture=True),
    *_verbs("sleep /on", PET, "seat bed", durative=True),
    *_verbs("sit down /on", P, "seat", post=(rel("on", "seat"), attr("sitting", "posture", on="agent"))),
    *_verbs("sit down /at", P, "surface instrument", post=(rel("at", "seat"), attr("sitting", "posture", on="agent"))),
    *_verbs("lie down /on", PET, "bed seat", post=(rel("on", "seat"), attr("lying", "posture", on="agent"))),
    *_verbs("fall asleep /on", PET, "bed seat", post=(rel("on", "seat"), attr("asleep", "alert", on="agent"))),
    *_verbs("bump /into", PET, "seat surface person"),
    *_verbs("knock ~over", PET, "container fallable", post=(attr("fallen", "upright"),)),
    *_verbs("build", P, "fallable", durative=True),
    # intransitive: people
    *_verbs("laugh, smile, cry, sneeze, cough, yawn, sigh, frown, shrug, shiver, blink, giggle, gasp, shout, scream, "
            "whisper, hiccup", P),
    *_verbs("clap, nod, jump, hop, wave, knock, bow", PC, repeatable=True),
    *_verbs("cheer, applaud, boo, sing, celebrate", PC, durative=True),
    *_verbs("dance", PC, durative=True, moving=True),
    *_verbs("pray, read, meditate, work, paint, draw, think, listen", P, durative=True),
    *_verbs("jog, skate, ski, surf", P, durative=True, moving=True),
    *_verbs("rest, relax, stretch, sleep, hide", "person animal", durative=True),
    *_verbs("run", MOVER, durative=True, moving=True),
    *_verbs("swim", "person swimmer", durative=True, moving=True),
    *_verbs("spin, twirl, bounce", P, repeatable=True),
    *_verbs("sit down, kneel down, crouch down", P, post=(attr("sitting", "posture", on="agent"),)),
    *_verbs("lie down", ANIMATE, post=(attr("lying", "posture", on="agent"),)),
    *_verbs("stand up, get up", ANIMATE, post=(attr("standing", "posture", on="agent"),), ends=(STOOD,)),
    *_verbs("fall asleep", ANIMATE, post=(attr("asleep", "alert", on="agent"),)),
    *_verbs("wake up", ANIMATE, pre=(attr("asleep", "alert", on="agent"),), post=(attr("awake", "alert", on="agent"),)),
    *_verbs("turn around, look around, look up, look down, sit up, shoot", P),
    *_verbs("step back, walk away, run away, walk over, come in, run outside, walk in, slip, trip, fall down, stumble, "
            "dive, arrive, leave, disappear", P, moving=True),
    *_verbs("turn around, look around, look up", "walker"),
    *_verbs("run away, come in, run outside, arrive, leave, disappear", "walker", moving=True),
    # intransitive: animals
    *_verbs("bark, growl, howl, whine", "dog"),
    *_verbs("meow, purr, hiss", "cat"),
    *_verbs("roll over, shake, sit, beg, pant", "dog"),
    *_verbs("curl up, stretch out", "pet", post=(attr("curled up", "posture", on="agent"),)),
    *_verbs("chirp, sing", "bird"),
    *_verbs("fly away, fly off, take off, swoop down", "bird", moving=True),
    *_verbs("neigh", "horse"),
    *_verbs("gallop, trot", "horse", durative=True, moving=True),
    *_verbs("graze", "grazer", durative=True),
    *_verbs("quack", "swimmer bird"),
    *_verbs("waddle", "swimmer bird", moving=True),
    *_verbs("scratch", "pet"),
    *_verbs("roar", "wild"),
    *_verbs("squeak", "small"),
    *_verbs("climb, crawl, sniff around", "animal", moving=True),
    # intransitive: vehicles and things
    *_verbs("drive away, speed up, slow down, stop, turn left, turn right, pull away, back up, break down, "
            "arrive, leave, honk", "road", moving=True),
    *_verbs("sail away, sink, float, sail", "watercraft", moving=True),
    *_verbs("take off, land, fly, circle, hover", "aircraft", moving=True),
    *_verbs("ring, buzz, beep, go off", "ringer", repeatable=True),
    *_verbs("boil, bubble, steam", "heater", durative=True),
    *_verbs("heat up", "heater", durative=True, post=(attr("hot", "temperature", on="agent"),)),
    *_verbs("cool down", "heater", durative=True, post=(attr("cool", "temperature", on="agent"),)),
    *_verbs("whistle", "heater"),
    *_verbs("flash, flicker, blink", "light flame", repeatable=True),
    *_verbs("go out", "light flame", post=(attr("off", "power", on="agent"),)),
    *_verbs("come on", "light", post=(attr("on", "power", on="agent"),)),
    *_verbs("burn", "flame", durative=True),
    *_verbs("start, stop, begin, end", "weather event"),
    *_verbs("rise, set, shine", "sky", durative=True),
    *_verbs("rise, float away, fly away, drop, fall, drift, spin, hover, land", "flyer", moving=True),
    *_verbs("pop", "inflatable", post=(attr("popped", "inflated", on="agent"),)),
    *_verbs("start, stop, hum, shake, rattle, beep", "machine"),
    *_verbs("pop up", "toaster"),
    *_verbs("open, swing open", "door", post=(attr("open", "openness", on="agent"),)),
    *_verbs("close, slam shut", "door", post=(attr("closed", "openness", on="agent"),)),
    *_verbs("creak", "door", durative=True),
    *_verbs("fall over, collapse, topple over", "fallable", post=(attr("fallen", "upright", on="agent"),)),
    *_verbs("wobble", "fallable", durative=True),
    *_verbs("melt", "melter", durative=True, post=(attr("melted", "melted", on="agent"),)),
    *_verbs("drip", "melter", repeatable=True),
    *_verbs("bloom, open up, sway, wilt", "bloomer", durative=True),
    *_verbs("tick", "ticker", durative=True),
    *(v for c in ("red", "green", "yellow") for v in _verbs(f"turn {c}", "signal", post=(attr(c, "colour", on="agent"),))),
)


SHAPE_SPECS: dict[Action, str] = {
    Action.LEFT: "move left", Action.RIGHT: "move right", Action.UP: "move up", Action.DOWN: "move down",
    Action.JUMP: "jump", Action.GROW: "grow", Action.SHRINK: "shrink", Action.APPEAR: "appear",
    Action.DISAPPEAR: "disappear", Action.SPIN: "spin", Action.TOWARD: "move /toward", Action.FOLLOW: "follow",
}
"""Each shapes action as a verb entry (``turns <colour>`` is made per colour); their third-person predicates
are the vocabulary's, which ``_shape_verbs`` checks."""
SHAPE_DURATIVE = frozenset(set(SHAPE_SPECS) - {Action.JUMP, Action.APPEAR, Action.DISAPPEAR})


def _shape_verbs() -> tuple[Verb, ...]:
    """One Verb per dynamic-shapes predicate, taken by the shape classes that can do it (``vocabulary.can_do``)."""
    verbs = []
    for action in Action:
        agents = " ".join(f"shape:{shape}" for shape in SHAPES if can_do(shape, action))
        if action is Action.TURN:
            verbs += [v for c in COLOURS for v in _verbs(f"turn {c}", agents, post=(attr(c, "colour", on="agent"),))]
            continue
        sized = action in (Action.GROW, Action.SHRINK)  # the size a caption gave is no longer known
        (verb,) = _verbs(SHAPE_SPECS[action], agents, "shape" if action in TRANSITIVE else "",
                         durative=action in SHAPE_DURATIVE, repeatable=action is Action.JUMP,
                         ends=(Release("size"),) if sized else ())
        if verb.predicate(verb.forms.third) != action.value:
            raise ValueError(f"shapes verb {SHAPE_SPECS[action]!r} does not give the predicate {action.value!r}")
        verbs.append(verb)
    return verbs


def _merge(verbs: tuple[Verb, ...]) -> tuple[Verb, ...]:
    """One entry per key: senses with the same predicate pool their agent and target kinds (not their states)."""
    merged: dict[str, Verb] = {}
    for verb in verbs:
        old = merged.get(verb.key)
        if old is not None:
            if (old.pre, old.post, old.ends, old.destinations) != (verb.pre, verb.post, verb.ends, verb.destinations):
                raise ValueError(f"two senses of {verb.key!r} imply different states; give them different words")
            verb = replace(old, agents=old.agents | verb.agents, objects=old.objects | verb.objects,
                           durative=old.durative or verb.durative, repeatable=old.repeatable or verb.repeatable,
                           background=old.background or verb.background, posture=old.posture or verb.posture,
                           moving=old.moving or verb.moving)
        merged[verb.key] = verb
    return tuple(merged.values())


VERBS: tuple[Verb, ...] = _merge((*EVERYDAY, *_shape_verbs()))
