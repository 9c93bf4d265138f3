"""``nacrith explain``: where the bits go in a text, token by token (:mod:`.costs`), and as a page (:mod:`.page`)."""

from .costs import Explanation, explain
from .page import render_html

__all__ = ["Explanation", "explain", "render_html"]
