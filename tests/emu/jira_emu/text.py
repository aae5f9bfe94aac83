"""Text rewriting as Jira stores it, and a small wiki <-> ADF conversion.

Cloud flavour, text written through REST v2 (description, environment, comment body):
Jira Cloud stores rich text as ADF, so wiki markup goes wiki -> ADF -> wiki and comes
back changed.  No Atlassian document describes the exact rewrite (API-NOTES 16.3), so the
emulator applies this deterministic, documented subset (idempotent: applying it twice
gives the same text as applying it once):

  1. CRLF and lone CR become LF.
  2. Trailing spaces and tabs at the end of each line are removed (U+00A0 is kept).
  3. Bullets: a line starting with ``*``/``-``/``#`` runs (``*item``, ``-  item``) is
     rewritten as ``* item`` / ``# item`` (``-`` bullets become ``*``).
  4. Headings: ``h1.Title`` / ``h2.   Title`` become ``h1. Title``.
  5. Runs of two or more blank lines collapse to one blank line.
  6. Leading and trailing blank lines are dropped.

Data Center stores text as sent (API-NOTES 16.3).
"""
import re

_BULLET = re.compile(r"^([*#-]+)[ \t]*(?=\S)(.*)$")
_HEADING = re.compile(r"^(h[1-6])\.[ \t]*(.*)$")


def cloud_normalise(text):
    if text is None:
        return None
    t = text.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for line in t.split("\n"):
        line = line.rstrip(" \t")
        m = _HEADING.match(line)
        if m:
            line = m.group(1) + ". " + m.group(2) if m.group(2) else m.group(1) + "."
        else:
            m = _BULLET.match(line)
            # "----" (a rule) and "-- " (a dash) are not bullets
            if m and not re.match(r"^-{2,}", line) and not re.match(r"^\*[^*\s].*\*", line):
                marks = m.group(1).replace("-", "*")
                line = marks + " " + m.group(2)
        out.append(line)
    # collapse blank-line runs, drop leading/trailing blank lines
    res = []
    for line in out:
        if line == "" and (not res or res[-1] == ""):
            continue
        res.append(line)
    while res and res[-1] == "":
        res.pop()
    return "\n".join(res)


def wiki_to_adf(text):
    """Very small wiki -> ADF (v3 reads): paragraphs, headings and bullet lists."""
    if text is None:
        return None
    content = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        if not block.strip():
            continue
        lines = block.split("\n")
        m = _HEADING.match(lines[0])
        if m and len(lines) == 1:
            content.append({"type": "heading", "attrs": {"level": int(m.group(1)[1])},
                            "content": [{"type": "text", "text": m.group(2)}]})
            continue
        if all(re.match(r"^[*-] ", ln) for ln in lines):
            content.append({"type": "bulletList", "content": [
                {"type": "listItem", "content": [{"type": "paragraph", "content": [
                    {"type": "text", "text": ln[2:]}]}]} for ln in lines]})
            continue
        para = []
        for i, ln in enumerate(lines):
            if i:
                para.append({"type": "hardBreak"})
            if ln:
                para.append({"type": "text", "text": ln})
        content.append({"type": "paragraph", "content": para})
    return {"type": "doc", "version": 1, "content": content}


def adf_to_wiki(doc):
    """ADF (v3 writes) -> wiki markup, text and the structures wiki_to_adf makes."""
    if doc is None or isinstance(doc, str):
        return doc

    def inline(nodes):
        s = ""
        for n in nodes or []:
            if n.get("type") == "text":
                s += n.get("text", "")
            elif n.get("type") == "hardBreak":
                s += "\n"
            else:
                s += inline(n.get("content"))
        return s

    blocks = []
    for n in doc.get("content", []) if isinstance(doc, dict) else []:
        t = n.get("type")
        if t == "heading":
            blocks.append("h%d. %s" % (n.get("attrs", {}).get("level", 1), inline(n.get("content"))))
        elif t in ("bulletList", "orderedList"):
            mark = "*" if t == "bulletList" else "#"
            blocks.append("\n".join(mark + " " + inline(li.get("content", [{}])[0].get("content"))
                                    for li in n.get("content", [])))
        else:
            blocks.append(inline(n.get("content")))
    return "\n\n".join(blocks)
