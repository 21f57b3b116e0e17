#!/usr/bin/env python3
"""Doxygen INPUT_FILTER for the public header: reads the header's own
comment conventions and prints it back with Doxygen markup, line for line
(so Doxygen's warnings name the header's real line numbers).

usage: scripts/doxygen_filter.py HEADER

The header stays written in plain C comments; this filter is what makes
them a reference:
  - a "/* ---- */ /* Title */ /* ---- */" banner opens a group (one man
    page), a "/* ---- Title ---- */" line a group nested in it; a banner
    whose title says "private" or "internal" ends the groups, and the
    plain comments after it stay plain;
  - a plain comment right before a public declaration becomes its doc;
    one that stands alone becomes text of the current group; one before
    private machinery (a name ending in "_") stays a plain comment;
  - in doc blocks, "Returns:", "Errors:", "Undefined:" and "Aborts:"
    open the sections of those names (the aliases are in docs/Doxyfile.in),
    and an indented block after an empty line is code;
  - a comment after a struct member, an enumerator or a #define documents
    it; the X-macro list of error codes is spelled out as enumerators;
  - a function-like macro that shadows an exported function (the inline
    mmapio_read) is dropped: the function is the documented interface.
Names ending in "_" are left to Doxygen's EXCLUDE_SYMBOLS.
"""
import re
import sys

DASHES = re.compile(r"^/\* -{20,} \*/\s*$")
TITLE = re.compile(r"^/\* (.*?)\s*\*/\s*$")
SUBSECTION = re.compile(r"^/\* -{3,} (.+?) -{3,} \*/\s*$")
PRIVATE = re.compile(r"\b(?:private|internal)\b", re.I)
SECTION = re.compile(r"^(\s*(?:/\*\*|\*)?\s*)(Returns|Errors|Undefined|Aborts):")
DECLARES = re.compile(
    r"^\s*(?:#\s*define\s+(\w+)|typedef\b.*?\b(\w+)\s*[;{]?\s*$|"
    r"(?:MMAPIO_API|static\s+inline)\b[^(]*?\b(\w+)\s*\(|"
    r"typedef\s+(?:struct|enum|union)\s+(\w+))")
SKIPPED = re.compile(r'^\s*(?:$|#\s*(?:if|ifdef|ifndef|elif|else|endif|include)'
                     r'|}|extern\s+"C")')
AGGREGATE = re.compile(r"^\s*typedef\s+(?:struct|enum|union)\b[^;]*\{\s*$")


def slug(title):
    """A group's name (and man page): its title up to a colon, without
    parentheses, e.g. "mmapio-anonymous-mappings"."""
    title = re.sub(r"\(.*?\)", "", title.split(":")[0])
    words = re.findall(r"[a-z0-9]+", title.lower())
    return "mmapio-" + "-".join(words)


def comment_end(lines, i):
    """Index of the line that closes the comment opened on line i."""
    j, start = i, lines[i].index("/*") + 2
    while "*/" not in lines[j][start if j == i else 0:]:
        j += 1
    return j


def before_end(line, text):
    """line with text inserted before its last "*/"."""
    cut = line.rindex("*/")
    return line[:cut] + text + line[cut:]


def next_code(lines, j):
    """The first line after j that is neither blank nor preprocessor glue,
    and whether a conditional (#if...) came before it."""
    k, conditional = j + 1, False
    while k < len(lines) and SKIPPED.match(lines[k]):
        conditional |= bool(re.match(r"\s*#\s*if", lines[k]))
        k += 1
    return (lines[k] if k < len(lines) else ""), conditional


def declared_name(line):
    m = DECLARES.match(line)
    if not m:
        return None
    return next(g for g in m.groups() if g)


def escape_text(text):
    """Markdown-safe doc text: literal asterisks and angle brackets outside
    `code` (a placeholder like <name> is not an HTML tag), and no sentence
    end after "e.g." (the brief is the first sentence)."""
    parts = text.split("`")
    for k in range(0, len(parts), 2):
        parts[k] = parts[k].replace("*", "\\*")
        parts[k] = re.sub(r"<(?=[A-Za-z/])", r"\\<", parts[k])
        parts[k] = re.sub(r"\b(e\.g|i\.e)\. ", r"\1.\\ ", parts[k])
    return "`".join(parts)


def doc_block(lines, i, j):
    """Rewrites the doc block lines[i..j] in place."""
    body = []
    for k in range(i, j + 1):
        line = lines[k]
        lead = r"^(.*?/\*\*<?)(.*)$" if k == i else r"^(\s*\*(?!/))(.*)$"
        m = re.match(lead, line)
        head, text = (m.group(1), m.group(2)) if m else ("", line)
        tail = ""
        if k == j:
            cut = text.rindex("*/")
            text, tail = text[:cut], text[cut:]
        body.append([head, text, tail])
    # An indented run after an empty line is a code example.
    for n in range(1, len(body) - 1):
        if body[n - 1][1].strip() or not body[n][1].startswith("   "):
            continue
        if body[n][1].lstrip().startswith(("-", "*")) or \
                re.match(r"\s*\d+\.", body[n][1]):
            continue
        end = n
        while end < len(body) and body[end][1].startswith("   "):
            end += 1
        if end < len(body) and not body[end][1].strip():
            body[n - 1][1] = " \\code"
            body[end][1] = " \\endcode"
    code = False
    for part in body:
        if part[1].strip() == "\\code":
            code = True
        elif part[1].strip() == "\\endcode":
            code = False
        elif not code:
            part[1] = escape_text(part[1])
            s = SECTION.match(part[0] + part[1])
            if s:
                whole = part[0] + part[1]
                whole = (s.group(1) + "\\" + s.group(2).lower() +
                         whole[s.end():])
                part[0], part[1] = "", whole
    for n, (head, text, tail) in enumerate(body):
        lines[i + n] = head + text + tail


def error_enumerators(text):
    """The MMAPIO_ERROR_MAP list as enumerators on one line."""
    m = re.search(r"#define MMAPIO_ERROR_MAP\(X\)(.*?)\n\n", text, re.S)
    items = re.findall(r'X\((\w+),\s*(-?\d+),\s*"([^"]*)"\)', m.group(1))
    return " ".join(f"MMAPIO_E_{n} = {v}, /**< {d} */" for n, v, d in items)


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[4], file=sys.stderr)
        return 2
    text = open(sys.argv[1]).read()
    lines = text.split("\n")
    exported = set(re.findall(r"MMAPIO_API\b[^;{(]*?\b(mmapio_\w+)\s*\(",
                              text))
    group, subgroup, seen_comment, private = None, None, False, False
    depth = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if DASHES.match(stripped):
            # Banner: dashes, title line(s), dashes.
            k = i + 1
            while not DASHES.match(lines[k].strip()):
                k += 1
            title = " ".join(TITLE.match(l.strip()).group(1)
                             for l in lines[i + 1:k])
            lines[i] = "/** @} */" if group else ""
            for n in range(i + 1, k + 1):
                lines[n] = ""
            private = bool(PRIVATE.search(title))
            group, subgroup = (None if private else slug(title)), None
            if group:
                lines[i + 1] = f"/** \\defgroup {group} {title} */"
                lines[k] = "/** @{ */"
            seen_comment = True
            i = k + 1
            continue
        m = SUBSECTION.match(stripped)
        if m and group and PRIVATE.search(m.group(1)):
            lines[i] = "/** @} */"
            group, subgroup, private = None, None, True
            i += 1
            continue
        if m and group:
            # Nested groups are declared with \ingroup, not by nesting
            # their @{ blocks: a member inside two open blocks would
            # belong to both.
            subgroup = slug(m.group(1))
            lines[i] = (f"/** @}} */ /** \\subgroup{{{subgroup},{group},"
                        f"{m.group(1)}}} */ /** @{{ */")
            i += 1
            continue
        if stripped.startswith("/*"):
            j = comment_end(lines, i)
            if private and not stripped.startswith("/**"):
                pass  # the private machinery keeps its plain comments
            elif stripped.startswith("/**") or depth > 0:
                lines[i] = line.replace("/*", "/**", 1).replace("/***", "/**")
                doc_block(lines, i, j)
            else:
                after, conditional = next_code(lines, j)
                name = declared_name(after)
                # Text before a list of commented macros, or before
                # declarations that depend on the language, is about all
                # of them: it belongs to the group, not to the first.
                shared = conditional or (after.lstrip().startswith("#") and
                                         "/*" in after)
                if not seen_comment:
                    lines[i] = line.replace("/*", "/**", 1)
                    lines[j] = before_end(lines[j], "\\file ")
                    doc_block(lines, i, j)
                elif name and name.endswith("_"):
                    pass  # private machinery: not part of the reference
                elif name and not shared:
                    lines[i] = line.replace("/*", "/**", 1)
                    doc_block(lines, i, j)
                elif group:
                    # Group text: step out of the group's @{ block (a
                    # group cannot be added to itself), add the text to
                    # the group, and step back in.
                    lines[i] = line.replace("/*", "/**", 1)
                    lines[j] = before_end(lines[j],
                                          f"\\addtogroup {subgroup or group} ")
                    doc_block(lines, i, j)
                    lines[i] = "/** @} */ " + lines[i]
                    lines[j] += " /** @{ */"
            seen_comment = True
            i = j + 1
            continue
        m = re.match(r"^\s*#\s*define\s+(\w+)\(", line)
        if m and m.group(1) in exported:
            k = i
            while lines[k].rstrip().endswith("\\"):
                k += 1
            for n in range(i, k + 1):
                lines[n] = ""
            i = k + 1
            continue
        if "MMAPIO_ERROR_MAP(MMAPIO_ERROR_ENUM_)" in line and depth > 0:
            lines[i] = "  " + error_enumerators(text)
            i += 1
            continue
        if AGGREGATE.match(line):
            depth += 1
        elif depth > 0 and stripped.startswith("}"):
            depth -= 1
        member = depth > 0 or re.match(r"#\s*define|typedef\b", stripped)
        if member and "/*" in line and \
                not stripped.startswith("/*"):
            # A trailing comment documents the member, enumerator or macro.
            lines[i] = line.replace("/*", "/**<", 1)
            j = comment_end(lines, i)
            doc_block(lines, i, j)
            i = j + 1
            continue
        i += 1
    if group:
        lines.append("/** @} */")
    sys.stdout.write("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
