"""The word lists and options demo rows are drawn from (names, descriptions, colours, sizes)."""

from __future__ import annotations


def _word_lists(text: str) -> dict[str, tuple[str, ...]]:
    """`name: a b c` or `name: a phrase | another`; a line without a `:` continues the last."""
    joined: dict[str, str] = {}
    name = ""
    for line in text.strip().splitlines():
        if ":" in line:
            name, line = line.split(":", 1)
        joined[name] = f"{joined.get(name, '')} {line}"
    split = {key: text.split("|" if "|" in text else None) for key, text in joined.items()}
    return {key: tuple(word.strip() for word in words) for key, words in split.items()}


WORDS = _word_lists("""
departments: Home Kitchen Garden Office Outdoors Sports Electronics Toys Bath Travel
sections: Essentials Classics Premium Everyday Seasonal Compact Professional Eco
ranges: Storage Lighting Tools Textiles Accessories Decor Furniture Gadgets Care
adjectives: Rustic Modern Classic Compact Deluxe Portable Vintage Sleek Sturdy Elegant Cozy
    Bold Minimal Handmade Foldable Smart Ergonomic Premium Lightweight Heritage Coastal Nordic
materials: Oak Walnut Bamboo Steel Copper Ceramic Linen Cotton Leather Glass Wool Marble Brass
    Cedar Granite Canvas Velvet Aluminium
nouns: Lamp Chair Kettle Backpack Blanket Planter Mug Desk Shelf Clock Speaker Tent Jacket Rug
    Bottle Cushion Basket Skillet Notebook Headphones Lantern Stool Mirror Vase Toolbox Teapot
    Organizer Hammock Cutlery Umbrella
features: built to last for years | easy to clean and care for | designed for small spaces
    | finished by hand in small batches | tested for everyday use | made to be repaired
benefits: A thoughtful gift for any occasion. | Pairs well with the rest of the collection.
    | Backed by a two-year warranty. | Ships flat and assembles in minutes.
brand_heads: North Blue Silver Oak Stone River Bright Iron Maple Sun Cedar Harbor Wild
brand_tails: wind peak line craft works field forge leaf haven mill wave crest ridge
trades: Supply Co | Trading | Goods | Outfitters | Wholesale | Home Store
first_names: Ada Alan Grace Linus Margaret Dennis Barbara Ken Radia Tim Frances Edsger Hedy
    Niklaus Katherine John Annie Guido Joan Donald Sophie Yukihiro Mary Bjarne Lynn James
last_names: Lovelace Turing Hopper Torvalds Hamilton Ritchie Liskov Thompson Perlman Lee Allen
    Dijkstra Lamarr Wirth Johnson Backus Easley Rossum Clarke Knuth Wilson Matsumoto Shaw
""")
COLORS = (("RD", "Red"), ("BL", "Blue"), ("GN", "Green"), ("BK", "Black"), ("WH", "White"))
SIZES = (("S", "Small"), ("M", "Medium"), ("L", "Large"), ("XL", "Extra Large"))
TIERS = ("bronze", "bronze", "bronze", "silver", "silver", "gold", "platinum")
WAREHOUSES = ("WH-EAST", "WH-WEST", "WH-CENTRAL")
