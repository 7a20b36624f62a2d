"""Apple Podcasts' categories, as Apple spells them (the list since its 2019 revision).

Data, not code: ``check`` reports a show category (or subcategory under its parent) that is
not here, because Apple Podcasts Connect refuses such a feed. Matching is exact, ``&`` and all:
Apple compares the ``text`` attribute as written.
"""

from __future__ import annotations

#: Category → its subcategories (empty: none).
APPLE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Arts": (
        "Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts",
    ),
    "Business": (
        "Careers", "Entrepreneurship", "Investing", "Management", "Marketing", "Non-Profit",
    ),
    "Comedy": ("Comedy Interviews", "Improv", "Stand-Up"),
    "Education": ("Courses", "How To", "Language Learning", "Self-Improvement"),
    "Fiction": ("Comedy Fiction", "Drama", "Science Fiction"),
    "Government": (),
    "History": (),
    "Health & Fitness": (
        "Alternative Health", "Fitness", "Medicine", "Mental Health", "Nutrition", "Sexuality",
    ),
    "Kids & Family": ("Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"),
    "Leisure": (
        "Animation & Manga", "Automotive", "Aviation", "Crafts", "Games", "Hobbies",
        "Home & Garden", "Video Games",
    ),
    "Music": ("Music Commentary", "Music History", "Music Interviews"),
    "News": (
        "Business News", "Daily News", "Entertainment News", "News Commentary", "Politics",
        "Sports News", "Tech News",
    ),
    "Religion & Spirituality": (
        "Buddhism", "Christianity", "Hinduism", "Islam", "Judaism", "Religion", "Spirituality",
    ),
    "Science": (
        "Astronomy", "Chemistry", "Earth Sciences", "Life Sciences", "Mathematics",
        "Natural Sciences", "Nature", "Physics", "Social Sciences",
    ),
    "Society & Culture": (
        "Documentary", "Personal Journals", "Philosophy", "Places & Travel", "Relationships",
    ),
    "Sports": (
        "Baseball", "Basketball", "Cricket", "Fantasy Sports", "Football", "Golf", "Hockey",
        "Rugby", "Running", "Soccer", "Swimming", "Tennis", "Volleyball", "Wilderness",
        "Wrestling",
    ),
    "Technology": (),
    "True Crime": (),
    "TV & Film": ("After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"),
}  # fmt: skip


def category_problem(category: str, sub: str) -> str | None:
    """Why Apple would refuse ``category`` (with ``sub``, ``""`` for none); ``None``: fine."""
    subs = APPLE_CATEGORIES.get(category)
    if subs is None:
        near = [c for c in APPLE_CATEGORIES if c.lower() == category.lower()]
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        return f"category {category!r} is not in Apple Podcasts' list{hint}"
    if sub and sub not in subs:
        listed = ", ".join(subs) if subs else "none"
        return f"{sub!r} is not a subcategory of {category!r} in Apple's list ({listed})"
    return None
