"""The corpus's nouns: people, animals, vehicles and things that act, objects they act on, scenes (issue 10).

Each group shares its kinds and flags; ``name(adj/adj)`` lists the adjectives a noun may take (they become part
of its gold name). A noun's kinds decide which verbs it can be the agent or the target of (``verbs.py``).
The dynamic-shapes nouns come from ``dysen_core.shapes.vocabulary``.
"""

from __future__ import annotations

from ..shapes.vocabulary import COLOURS, SHAPES, entity_name
from .lexicon import Descriptor, Noun


def _group(spec: str, kinds: str, **fields) -> tuple[Noun, ...]:
    """One Noun per comma-separated entry of ``spec``, all with the space-separated ``kinds``."""
    nouns = []
    for entry in spec.split(","):
        name, _, adjectives = entry.strip().partition("(")
        nouns.append(Noun(name=name.strip(), kinds=frozenset(kinds.split()),
                          adjectives=tuple(a for a in adjectives.rstrip(")").split("/") if a), **fields))
    return tuple(nouns)


PEOPLE = (
    *_group("man(old/young/tall), boy(young), waiter, fisherman, businessman, gentleman(old)", "person", genders=("m",)),
    *_group("father, son, brother, grandfather, uncle", "person", genders=("m",), relational=True),
    *_group("woman(old/young/tall), girl(young), lady(old/young), waitress, businesswoman", "person", genders=("f",)),
    *_group("mother, daughter, sister, grandmother, aunt", "person", genders=("f",), relational=True),
    *_group("friend(old/best), neighbor(old), colleague, assistant, opponent, teammate", "person", genders=("m", "f"),
            relational=True),
    *_group(
        "toddler, baby, teenager, student(young), teacher(young), chef, cook, baker, bartender, doctor, nurse, farmer(old), "
        "gardener(old), mechanic, police officer, firefighter, delivery driver, pianist(young), guitarist, drummer, "
        "violinist, singer(young), dancer(young), painter, carpenter, surfer, skateboarder, cyclist, runner, jogger, "
        "swimmer, tennis player, basketball player, soccer player, goalkeeper, referee, photographer, magician, "
        "juggler, hiker, climber, skier, boxer, janitor, librarian, cashier, customer, tourist, soldier, pilot, sailor, "
        "lifeguard, coach, clown, scientist, plumber, barber, office worker, shopkeeper, kid, child, secretary, "
        "manager, artist, mail carrier, street musician, chess player, yoga teacher, hairdresser",
        "person", genders=("m", "f")),
    *_group("kids, children, students, players, dancers, tourists, workers, boys, girls, friends, musicians, soldiers, "
            "hikers, fans, campers, teenagers, runners, swimmers, guests, shoppers, climbers",
            "person people", genders=("pl",), plural=True),
    *_group("crowd, audience, band, team, couple, family, choir, orchestra", "crowd", genders=("c",)),
)

ANIMALS = (
    *_group("dog(big/small/black/brown/white), puppy(small), golden retriever, sheepdog", "animal dog pet walker"),
    *_group("cat(black/grey/white/orange), kitten(small/grey)", "animal cat pet walker climber"),
    *_group("horse(white/brown/black), pony(small)", "animal horse grazer rideable walker"),
    *_group("bird(small/blue), parrot(green), owl, crow, seagull, pigeon", "animal bird"),
    *_group("duck, goose, swan", "animal bird swimmer"),
    *_group("dolphin, seal", "animal swimmer"),
    *_group("penguin, turtle, frog", "animal swimmer walker small"),
    *_group("squirrel, monkey", "animal walker climber small"),
    *_group("rabbit(white), hamster, mouse", "animal walker small"),
    *_group("bear(brown)", "animal walker climber wild"),
    *_group("elephant, fox, kangaroo", "animal walker"),
    *_group("lion, tiger", "animal walker wild"),
    *_group("deer, giraffe, goat, cow", "animal walker grazer"),
    *_group("birds, pigeons, ducks, geese", "animal bird animals", plural=True, genders=("pl",)),
    *_group("sheep, cows, horses", "animal grazer walker animals", plural=True, genders=("pl",)),
    *_group("chickens, fish", "animals", plural=True, genders=("pl",)),
)

VEHICLES = (
    *_group("car(red/blue/white/old), taxi(yellow), police car, van(white), truck(big), bus(yellow/red), ambulance, "
            "fire truck, tractor(red)", "vehicle road drivable washable", ),
    *_group("motorcycle", "vehicle road rideable"),
    *_group("train", "vehicle"),
    *_group("plane, helicopter", "vehicle aircraft"),
    *_group("boat(small), ship, sailboat", "vehicle watercraft"),
)

THINGS = (
    *_group("doorbell, alarm clock, bell, church bell", "ringer"),
    *_group("phone", "ringer phone holdable device", owned="may"),
    *_group("kettle", "heater device"),
    *_group("water", "heater", article="mass"),
    *_group("pot of water", "heater"),
    *_group("lights", "light", plural=True, genders=("pl",)),
    *_group("traffic light", "light signal"),
    *_group("lamp", "light device"),
    *_group("candle", "flame"),
    *_group("fire", "flame"),
    *_group("rain, snow", "weather", article="mass"),
    *_group("storm, wind", "weather"),
    *_group("sun, moon", "sky"),
    *_group("kite(red)", "flyer flyable holdable"),
    *_group("balloon(red/blue)", "flyer holdable inflatable"),
    *_group("leaves", "flyer rakeable", plural=True, genders=("pl",)),
    *_group("paper plane", "flyer flyable holdable throwable"),
    *_group("feather", "flyer holdable throwable"),
    *_group("coin, pillow", "holdable throwable"),
    *_group("lecture, concert, match, movie, show, lesson, party, race", "event"),
    *_group("washing machine, engine, fan, blender, printer, dishwasher", "machine"),
    *_group("toaster", "machine device toaster"),
    *_group("microwave", "machine device"),
    *_group("fountain", "machine"),
    *_group("door(front/wooden), gate", "door openable cover"),
    *_group("window", "door openable cleanable"),
    *_group("tower, vase, sandcastle, pile of books, stack of boxes", "fallable"),
    *_group("ice cream, ice cube, popsicle", "melter"),
    *_group("snowman", "fallable melter"),
    *_group("flowers", "bloomer plant", plural=True, genders=("pl",)),
    *_group("clock", "ticker"),
)

OBJECTS = (
    # food and drink
    *_group("apple(red/green), banana, orange, pear, peach, lemon", "food fruit holdable choppable"),
    *_group("sandwich, pizza, burger, salad, cake(chocolate), pie(apple), cookie, muffin, hot dog, taco", "food holdable"),
    *_group("bread(fresh)", "food choppable", article="mass"),
    *_group("soup(hot), pasta, rice, sauce, batter, cheese, oatmeal", "food cookable", article="mass"),
    *_group("dough", "food dough", article="mass"),
    *_group("pancakes, eggs, sausages, noodles, dumplings, fries", "food cookable", plural=True, genders=("pl",)),
    *_group("carrots, onions, tomatoes, potatoes, vegetables, mushrooms, peppers, cucumbers", "food choppable cookable",
            plural=True, genders=("pl",)),
    *_group("steak, chicken, fish fillet", "food cookable"),
    *_group("fresh oranges, lemons", "food squeezable", plural=True, genders=("pl",)),
    *_group("salt, sugar, pepper, cinnamon", "spice", article="mass"),
    *_group("coffee(hot/iced), tea(hot/green), milk, juice(orange), lemonade, smoothie", "drink pourable", article="mass"),
    *_group("glass of water, cup of coffee, cup of tea, bottle of water, can of soda, cocktail, glass of milk",
            "drink holdable"),
    # containers and holdable things
    *_group("cup, mug, glass, bowl, jar, bucket, watering can, vase of flowers, teapot", "container holdable fillable"),
    *_group("bottle", "container holdable fillable openable"),
    *_group("box(small/big/cardboard), suitcase(red/black), bag(red/black/paper), backpack(blue), basket, lunchbox",
            "container holdable openable packable"),
    *_group("plate, tray, pan, pot, cutting board", "container holdable"),
    *_group("present, envelope, gift", "holdable openable wrappable"),
    *_group("keys", "holdable", plural=True, genders=("pl",), owned="may"),
    *_group("wallet, ticket, camera, remote, flashlight, umbrella(red/black), towel, blanket, teddy bear, "
            "doll, toy car, toy mouse, leash, rope, flag, map, sign, shopping bag, tennis racket, baseball bat, "
            "fishing rod", "holdable"),
    *_group("stick, bone, snowball", "holdable throwable"),
    *_group("candles", "holdable candle", plural=True, genders=("pl",)),
    *_group("dumbbell, weights, barbell", "weight holdable"),
    *_group("hammer, broom, knife, rake, shovel, paintbrush, saw, screwdriver, wrench, mop, hose, pen, pencil, scissors, "
            "spatula, ladle, whisk, comb, hairbrush", "tool holdable"),
    # clothing and the body
    *_group("coat(long/warm), jacket(red/blue/black/leather), raincoat(yellow), hoodie(grey)",
            "clothing garment zippable holdable", owned="may"),
    *_group("sweater(red/woolen), hat(straw/black), cap(red/blue), scarf(red/woolen), helmet(black), apron, "
            "dress(blue/red)", "clothing garment holdable", owned="may"),
    *_group("gloves, shoes, boots, sneakers, socks, glasses, sunglasses, mittens", "clothing holdable pair",
            plural=True, genders=("pl",), owned="may"),
    *_group("teeth, hands, legs, arms, hair", "body", plural=True, genders=("pl",), owned="always"),
    *_group("face, nose", "body", owned="always"),
    # sports and play
    *_group("ball(red/blue/yellow/small/big), soccer ball, tennis ball, volleyball, baseball, football, golf ball, "
            "beach ball, frisbee(red)", "ball holdable"),
    *_group("basketball", "ball holdable"),
    *_group("chess, cards, video games, tennis, soccer, hide and seek, tag, catch", "game", article="none"),
    *_group("skateboard, scooter, bike(red/blue/old), surfboard", "rideable holdable"),
    *_group("sled", "rideable holdable pushable"),
    *_group("kayak, canoe, rowboat", "boat rideable"),
    *_group("stroller, shopping cart, wagon, wheelbarrow", "pushable"),
    *_group("blocks, boxes, plates, chairs, books", "stackable", plural=True, genders=("pl",)),
    # music
    *_group("guitar(acoustic/electric/old), violin, flute, trumpet, saxophone, cello, ukulele, drum, harmonica",
            "instrument holdable"),
    *_group("piano(old/grand), drums, keyboard", "instrument"),
    *_group("song(short/slow/sad/happy), ballad, melody, tune, lullaby", "music"),
    *_group("music", "audio", article="mass"),
    # reading and writing
    *_group("book(old/thick/red), magazine, notebook, menu, comic book", "document holdable openable"),
    *_group("newspaper, letter, report, postcard, recipe, form, birthday card", "document holdable"),
    *_group("picture, portrait, poster", "artwork"),
    # devices and furniture
    *_group("computer, TV, laptop, tablet, stove, heater, light, ceiling fan, hairdryer, coffee machine",
            "device"),
    *_group("radio", "device audio"),
    *_group("oven", "device openable"),
    *_group("fridge, drawer, cabinet, closet, mailbox", "openable"),
    *_group("curtains", "openable cover", plural=True, genders=("pl",)),
    *_group("chair(wooden/red), bench(wooden/long), sofa(red/old), couch, stool, armchair, rock, log", "seat"),
    *_group("swing", "seat pushable"),
    *_group("bed, hammock, mat, rug(red)", "bed"),
    *_group("table(wooden/round), desk, counter, shelf, windowsill", "surface cleanable"),
    *_group("floor, carpet", "cleanable sweepable"),
    *_group("fence, car window, mirror, dishes, clothes, shirt, laundry", "cleanable"),
    # plants and animals as objects
    *_group("plants, tomato plants, seeds", "plant", plural=True, genders=("pl",)),
    *_group("roses, bushes", "plant cover", plural=True, genders=("pl",)),
    *_group("garden bed", "plant"),
    *_group("lawn", "plant lawn"),
    *_group("hedge", "plant cover"),
    *_group("tree(small/young/old)", "plant ladder cover"),
    # places and landmarks
    *_group("house, room, classroom, shop, bakery, office, library, restaurant, cafe, gym, garage, barn, tent, studio",
            "room place", locative="in"),
    *_group("kitchen, living room, hallway", "room place sweepable", locative="in"),
    *_group("park, garden, market, forest", "outdoors place", locative="in"),
    *_group("backyard, playground", "outdoors open place", locative="in"),
    *_group("beach", "path open place", locative="on"),
    *_group("sidewalk, pier", "path place", locative="on"),
    *_group("balcony, porch, rooftop", "place", locative="on"),
    *_group("street", "path open crossable place"),
    *_group("road, track, river bank, trail", "path place"),
    *_group("bridge", "open crossable place"),
    *_group("field, yard, parking lot, square, court", "open place"),
    *_group("pool, lake, river, sea, pond", "water place"),
    *_group("waves", "water place", plural=True, genders=("pl",)),
    *_group("stairs", "slope", plural=True, genders=("pl",)),
    *_group("ramp, slide", "slope"),
    *_group("hill", "slope hill"),
    *_group("ladder, climbing wall", "ladder"),
    *_group("stage, roof, rail, wall", "platform"),
    *_group("finish line, crosswalk, puddle, hurdle, log bridge", "crossable"),
    *_group("bus stop, train station", "stop", locative="at"),
)

SHAPE_NOUNS = tuple(
    Noun(name=entity_name(colour, shape), kinds=frozenset({"shape", f"shape:{shape}"}))
    for shape in SHAPES for colour in COLOURS
)
"""A shape is named by its colour and class ("red circle", ``shapes.vocabulary.entity_name``)."""

NOUNS: tuple[Noun, ...] = (*PEOPLE, *ANIMALS, *VEHICLES, *THINGS, *OBJECTS, *SHAPE_NOUNS)

DESCRIPTORS: tuple[Descriptor, ...] = tuple(
    Descriptor(text=text, label=label, item=item, kinds=frozenset(kinds.split()))
    for text, label, item, kinds in (
        ("in a suit", "in", "suit", "person"),
        ("in a red dress", "in", "red dress", "person"),
        ("in an apron", "in", "apron", "person"),
        ("in a yellow raincoat", "in", "yellow raincoat", "person"),
        ("in a uniform", "in", "uniform", "person"),
        ("in a white coat", "in", "white coat", "person"),
        ("in a blue jacket", "in", "blue jacket", "person"),
        ("in a straw hat", "in", "straw hat", "person"),
        ("with a backpack", "with", "backpack", "person"),
        ("with a beard", "with", "beard", "person"),
        ("with headphones on", "wearing", "headphones", "person"),
        ("with a red collar", "with", "red collar", "pet"),
        ("with a saddle", "with", "saddle", "horse"),
    )
)
