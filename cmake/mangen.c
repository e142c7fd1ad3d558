/*
 * mangen: libdr3's section-3 man pages from Doxygen's XML output (build tool, not
 * installed). Doxygen's own man generator puts every function of a header on one page named
 * after the bare file name (so dr3/backup.h and dr3/sys/backup.h collide) and points each
 * function at it with a `.so` link. This writes instead, for the public headers:
 *   - one page per function, struct, enum, typedef and macro, named after it, whose
 *     SYNOPSIS names the header to include (#include <dr3/...>);
 *   - one page per header (dr3_<path>.h, e.g. dr3_sys_backup.h; libdr3 for dr3/dr3.h)
 *     listing what it declares;
 *   - a `.so` link per enumerator to the page of its enum (or of its header, for an
 *     anonymous enum).
 * Declarations inside `#ifdef DR3_EXPERIMENTAL` (found by reading the headers in the
 * include directories given) are marked experimental on their pages.
 *
 * usage: mangen <doxygen-xml-dir> <output-dir> <title> <date> [<include-dir>...]
 * The output directory must exist; pages are written as <name>.3.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a small DOM for Doxygen's (well-formed, entity-light) XML -------------------------- */

typedef struct node {
    char *name;  /* element name; NULL for a text node */
    char *text;  /* text node contents (entities decoded) */
    char **attr; /* name, value, name, value, ... */
    size_t nattr;
    struct node **kid;
    size_t nkid;
    struct node *parent;
} node;

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("mangen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static char *xstrndup(const char *s, size_t n) {
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

/* growable string */
typedef struct {
    char *s;
    size_t n, cap;
} buf;

static void bput(buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void bputs(buf *b, const char *s) { bput(b, s, strlen(s)); }

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
bprintf(buf *b, const char *fmt, ...) {
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) die("bprintf: output too long");
    bput(b, tmp, (size_t)n);
}

static const char *bstr(buf *b) { return b->s ? b->s : ""; }

static void decode_entities(buf *out, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '&') {
            bput(out, s + i, 1);
            continue;
        }
        const char *semi = memchr(s + i, ';', n - i);
        if (!semi) die("unterminated entity");
        size_t len = (size_t)(semi - (s + i)) + 1;
        static const struct {
            const char *ent, *txt;
        } named[] = {
            {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}, {"&apos;", "'"}, {"&quot;", "\""}};
        int done = 0;
        for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
            if (len == strlen(named[k].ent) && !memcmp(s + i, named[k].ent, len)) {
                bputs(out, named[k].txt);
                done = 1;
            }
        }
        if (!done && s[i + 1] == '#') {
            unsigned long cp =
                s[i + 2] == 'x' ? strtoul(s + i + 3, NULL, 16) : strtoul(s + i + 2, NULL, 10);
            char u[4];
            size_t m;
            if (cp < 0x80) {
                u[0] = (char)cp;
                m = 1;
            } else if (cp < 0x800) {
                u[0] = (char)(0xC0 | (cp >> 6));
                u[1] = (char)(0x80 | (cp & 0x3F));
                m = 2;
            } else if (cp < 0x10000) {
                u[0] = (char)(0xE0 | (cp >> 12));
                u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char)(0x80 | (cp & 0x3F));
                m = 3;
            } else {
                u[0] = (char)(0xF0 | (cp >> 18));
                u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[3] = (char)(0x80 | (cp & 0x3F));
                m = 4;
            }
            bput(out, u, m);
            done = 1;
        }
        if (!done) die("unknown entity %.*s", (int)len, s + i);
        i += len - 1;
    }
}

static node *new_node(node *parent) {
    node *n = xmalloc(sizeof *n);
    memset(n, 0, sizeof *n);
    n->parent = parent;
    if (parent) {
        parent->kid = xrealloc(parent->kid, (parent->nkid + 1) * sizeof *parent->kid);
        parent->kid[parent->nkid++] = n;
    }
    return n;
}

static node *parse_xml(const char *s) {
    node *root = new_node(NULL);
    root->name = xstrdup("#document");
    node *cur = root;
    const char *p = s;
    while (*p) {
        if (*p != '<') {
            const char *e = strchr(p, '<');
            if (!e) e = p + strlen(p);
            buf t = {0};
            decode_entities(&t, p, (size_t)(e - p));
            node *n = new_node(cur);
            n->text = t.s ? t.s : xstrdup("");
            p = e;
        } else if (!strncmp(p, "<?", 2)) {
            p = strstr(p, "?>");
            if (!p) die("unterminated <?");
            p += 2;
        } else if (!strncmp(p, "<!--", 4)) {
            p = strstr(p, "-->");
            if (!p) die("unterminated comment");
            p += 3;
        } else if (!strncmp(p, "<!", 2)) {
            p = strchr(p, '>');
            if (!p) die("unterminated <!");
            p++;
        } else if (p[1] == '/') {
            const char *e = strchr(p, '>');
            if (!e) die("unterminated end tag");
            size_t len = (size_t)(e - p - 2);
            if (!cur->parent || strlen(cur->name) != len || strncmp(cur->name, p + 2, len))
                die("mismatched </%.*s>", (int)len, p + 2);
            cur = cur->parent;
            p = e + 1;
        } else {
            p++;
            const char *ne = p;
            while (*ne && !isspace((unsigned char)*ne) && *ne != '>' && *ne != '/') ne++;
            node *n = new_node(cur);
            n->name = xstrndup(p, (size_t)(ne - p));
            p = ne;
            for (;;) {
                while (isspace((unsigned char)*p)) p++;
                if (*p == '/' && p[1] == '>') {
                    p += 2;
                    break;
                }
                if (*p == '>') {
                    p++;
                    cur = n;
                    break;
                }
                if (!*p) die("unterminated tag <%s", n->name);
                const char *an = p;
                while (*p && *p != '=' && !isspace((unsigned char)*p)) p++;
                size_t alen = (size_t)(p - an);
                while (isspace((unsigned char)*p) || *p == '=') p++;
                char q = *p++;
                const char *av = p;
                p = strchr(p, q);
                if (!p) die("unterminated attribute");
                buf v = {0};
                decode_entities(&v, av, (size_t)(p - av));
                p++;
                n->attr = xrealloc(n->attr, (n->nattr + 2) * sizeof *n->attr);
                n->attr[n->nattr++] = xstrndup(an, alen);
                n->attr[n->nattr++] = v.s ? v.s : xstrdup("");
            }
        }
    }
    if (cur != root) die("unterminated element <%s>", cur->name);
    return root;
}

static void free_node(node *n) {
    for (size_t i = 0; i < n->nkid; i++) free_node(n->kid[i]);
    for (size_t i = 0; i < n->nattr; i++) free(n->attr[i]);
    free(n->kid);
    free(n->attr);
    free(n->name);
    free(n->text);
    free(n);
}

static node *load_xml(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) die("%s: %s", path, strerror(errno));
    buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) bput(&b, chunk, n);
    fclose(f);
    node *root = parse_xml(bstr(&b));
    free(b.s);
    return root;
}

static const char *attr(const node *n, const char *name) {
    for (size_t i = 0; i + 1 < n->nattr; i += 2)
        if (!strcmp(n->attr[i], name)) return n->attr[i + 1];
    return NULL;
}

static int is(const node *n, const char *name) { return n->name && !strcmp(n->name, name); }

static node *child(const node *n, const char *name) {
    for (size_t i = 0; i < n->nkid; i++)
        if (is(n->kid[i], name)) return n->kid[i];
    return NULL;
}

/* all text below n, whitespace collapsed */
static void plain(buf *b, const node *n) {
    if (!n) return;
    if (!n->name) {
        for (const char *s = n->text; *s; s++) {
            if (isspace((unsigned char)*s)) {
                if (b->n && b->s[b->n - 1] != ' ') bputs(b, " ");
            } else {
                bput(b, s, 1);
            }
        }
        return;
    }
    for (size_t i = 0; i < n->nkid; i++) plain(b, n->kid[i]);
}

static char *plain_of(const node *n) {
    buf b = {0};
    plain(&b, n);
    char *s = xstrdup(bstr(&b));
    free(b.s);
    char *e = s + strlen(s);
    while (e > s && e[-1] == ' ') *--e = 0;
    char *st = s;
    while (*st == ' ') st++;
    memmove(s, st, strlen(st) + 1);
    return s;
}

/* ---- the symbol table ------------------------------------------------------------------ */

enum kind { K_FUNC, K_STRUCT, K_ENUM, K_TYPEDEF, K_DEFINE, K_ENUMVALUE, K_FILE };
static const char *kind_title[] = {"FUNCTIONS", "DATA STRUCTURES", "ENUMERATIONS", "TYPES",
                                   "MACROS",    "CONSTANTS",       "HEADERS"};

typedef struct sym {
    enum kind kind;
    char *name;             /* the symbol; for files the page name */
    char *header;           /* "dr3/learner.h" */
    const node *n;          /* memberdef or compounddef */
    const node *owner_enum; /* for enumerators */
    const char *so_target;  /* page an enumerator links to */
    int experimental;       /* declared inside #ifdef DR3_EXPERIMENTAL */
} sym;

static sym *syms;
static size_t nsyms;

static sym *find_sym(const char *name, int kind);

/* How much `header` looks like the home of `name`: dr3_learner lives in dr3/learner.h, not
 * in the sys/ headers that repeat its typedef. */
static int home_score(const char *name, const char *header) {
    const char *base = strrchr(header, '/');
    base = base ? base + 1 : header;
    size_t blen = strlen(base) > 2 ? strlen(base) - 2 : 0; /* without ".h" */
    int score = strstr(header, "/sys/") ? 0 : 1;
    if (!strncmp(name, "dr3_", 4) && blen && !strncmp(name + 4, base, blen) &&
        (name[4 + blen] == 0 || name[4 + blen] == '_'))
        score += 2;
    return score;
}

static sym *add_sym(enum kind k, const char *name, const char *header, const node *n) {
    sym *dup = k == K_FILE || k == K_ENUMVALUE ? NULL : find_sym(name, (int)k);
    if (dup) { /* declared again in another header: keep the one that looks like home */
        if (home_score(name, header) > home_score(name, dup->header)) {
            free(dup->header);
            dup->header = xstrdup(header);
            dup->n = n;
        }
        return dup;
    }
    syms = xrealloc(syms, (nsyms + 1) * sizeof *syms);
    sym *s = &syms[nsyms++];
    memset(s, 0, sizeof *s);
    s->kind = k;
    s->name = xstrdup(name);
    s->header = xstrdup(header);
    s->n = n;
    return s;
}

static sym *find_sym(const char *name, int kind) {
    for (size_t i = 0; i < nsyms; i++)
        if (!strcmp(syms[i].name, name) && (kind < 0 || syms[i].kind == (enum kind)kind))
            return &syms[i];
    return NULL;
}

/* "dr3/sys/backup.h" -> "dr3_sys_backup.h"; "dr3/dr3.h" -> "libdr3" */
static char *header_page(const char *header) {
    if (!strcmp(header, "dr3/dr3.h")) return xstrdup("libdr3");
    char *s = xstrdup(header);
    for (char *p = s; *p; p++)
        if (*p == '/') *p = '_';
    return s;
}

static const char *location_file(const node *n) {
    const node *loc = child(n, "location");
    const char *f = loc ? attr(loc, "file") : NULL;
    if (!f) die("no location for %s", n->name);
    return f;
}

/* ---- roff output ------------------------------------------------------------------------ */

typedef struct {
    buf out;  /* the page */
    buf line; /* the paragraph being filled */
    sym *refs[256];
    size_t nrefs;
    char font; /* the font of running text: 'R', 'B' or 'I' */
} page;

static void esc(buf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '\\')
            bputs(b, "\\e");
        else if (*s == '-')
            bputs(b, "\\-");
        else if ((*s == '.' || *s == '\'') && (b->n == 0 || b->s[b->n - 1] == '\n'))
            bputs(b, "\\&."), b->s[b->n - 1] = *s;
        else
            bput(b, s, 1);
    }
}

static void flush_line(page *pg) {
    char *s = pg->line.s;
    if (!s) return;
    /* trim; a filled roff line must not start with a space */
    while (*s == ' ') s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ') n--;
    if (n) {
        bput(&pg->out, s, n);
        bputs(&pg->out, "\n");
    }
    pg->line.n = 0;
    pg->line.s[0] = 0;
}

static void add_ref(page *pg, const char *name) {
    sym *s = find_sym(name, -1);
    if (!s || s->kind == K_ENUMVALUE) return;
    for (size_t i = 0; i < pg->nrefs; i++)
        if (pg->refs[i] == s) return;
    if (pg->nrefs < sizeof pg->refs / sizeof pg->refs[0]) pg->refs[pg->nrefs++] = s;
}

static void text_inline(page *pg, const char *t) {
    for (const char *s = t; *s; s++) {
        if (isspace((unsigned char)*s)) {
            if (pg->line.n && pg->line.s[pg->line.n - 1] != ' ') bputs(&pg->line, " ");
            continue;
        }
        char one[2] = {*s, 0};
        if (*s == '\\')
            bputs(&pg->line, "\\e");
        else if (*s == '-')
            bputs(&pg->line, "\\-");
        else if ((*s == '.' || *s == '\'') &&
                 (pg->line.n == 0 || (pg->line.n == 1 && pg->line.s[0] == ' ')))
            bputs(&pg->line, "\\&"), bputs(&pg->line, one);
        else
            bputs(&pg->line, one);
    }
}

static void blocks(page *pg, const node *n);

static void inlines(page *pg, const node *n);

/* n's contents in font f ('B' or 'I'), back to the surrounding font after */
static void styled(page *pg, const node *n, char f) {
    char outer = pg->font ? pg->font : 'R';
    if (outer == f) {
        inlines(pg, n);
        return;
    }
    bprintf(&pg->line, "\\f%c", f);
    pg->font = f;
    inlines(pg, n);
    pg->font = outer;
    bprintf(&pg->line, "\\f%c", outer);
}

static void inlines(page *pg, const node *n) {
    for (size_t i = 0; i < n->nkid; i++) {
        const node *k = n->kid[i];
        if (!k->name) {
            text_inline(pg, k->text);
        } else if (is(k, "computeroutput") || is(k, "bold") || is(k, "ref")) {
            if (is(k, "ref")) {
                char *t = plain_of(k);
                char *paren = strchr(t, '(');
                if (paren) *paren = 0;
                add_ref(pg, t);
                free(t);
            }
            styled(pg, k, 'B');
        } else if (is(k, "emphasis")) {
            styled(pg, k, 'I');
        } else if (is(k, "mdash")) {
            bputs(&pg->line, "\\(em");
        } else if (is(k, "ndash")) {
            bputs(&pg->line, "\\(en");
        } else if (is(k, "linebreak")) {
            flush_line(pg);
            bputs(&pg->out, ".br\n");
        } else if (is(k, "nonbreakablespace")) {
            bputs(&pg->line, "\\ ");
        } else if (is(k, "lsquo") || is(k, "rsquo")) {
            bputs(&pg->line, "'");
        } else if (is(k, "ldquo") || is(k, "rdquo")) {
            bputs(&pg->line, "\"");
        } else if (is(k, "zwj") || is(k, "zwnj") || is(k, "anchor") || is(k, "image") ||
                   is(k, "hruler") || is(k, "indexentry")) {
            /* nothing */
        } else if (is(k, "ulink")) {
            inlines(pg, k);
        } else if (is(k, "itemizedlist") || is(k, "orderedlist") || is(k, "parameterlist") ||
                   is(k, "simplesect") || is(k, "programlisting") || is(k, "table") ||
                   is(k, "blockquote") || is(k, "para") || is(k, "verbatim") ||
                   is(k, "xrefsect") || is(k, "heading")) {
            flush_line(pg);
            blocks(pg, k);
        } else {
            inlines(pg, k); /* unknown markup: keep its text */
        }
    }
}

static void para(page *pg, const node *p, int first_in_item) {
    if (!first_in_item) bputs(&pg->out, ".PP\n");
    inlines(pg, p);
    flush_line(pg);
}

static void item_body(page *pg, const node *item) {
    int first = 1;
    for (size_t j = 0; j < item->nkid; j++) {
        const node *k = item->kid[j];
        if (is(k, "para")) {
            if (!first) bputs(&pg->out, ".IP\n");
            inlines(pg, k);
            flush_line(pg);
            first = 0;
        } else if (k->name && !is(k, "title")) {
            blocks(pg, k);
        }
    }
}

static void blocks(page *pg, const node *n) {
    if (is(n, "para")) {
        para(pg, n, 0);
    } else if (is(n, "itemizedlist") || is(n, "orderedlist")) {
        int num = 1;
        bputs(&pg->out, ".RS 2\n");
        for (size_t i = 0; i < n->nkid; i++) {
            if (!is(n->kid[i], "listitem")) continue;
            if (is(n, "orderedlist"))
                bprintf(&pg->out, ".IP %d. 4\n", num++);
            else
                bputs(&pg->out, ".IP \\(bu 2\n");
            item_body(pg, n->kid[i]);
        }
        bputs(&pg->out, ".RE\n");
    } else if (is(n, "parameterlist")) {
        const char *kind = attr(n, "kind");
        bprintf(&pg->out, ".PP\n\\fB%s\\fR\n",
                kind && !strcmp(kind, "retval") ? "Return values:" : "Parameters:");
        for (size_t i = 0; i < n->nkid; i++) {
            const node *it = n->kid[i];
            if (!is(it, "parameteritem")) continue;
            const node *names = child(it, "parameternamelist");
            char *nm = plain_of(names);
            bputs(&pg->out, ".TP\n\\fI");
            esc(&pg->out, nm);
            bputs(&pg->out, "\\fR\n");
            free(nm);
            const node *d = child(it, "parameterdescription");
            if (d) item_body(pg, d);
        }
    } else if (is(n, "simplesect")) {
        const char *kind = attr(n, "kind");
        const char *title = !kind                      ? "Note:"
                            : !strcmp(kind, "return")  ? "Returns:"
                            : !strcmp(kind, "see")     ? "See also:"
                            : !strcmp(kind, "warning") ? "Warning:"
                            : !strcmp(kind, "since")   ? "Since:"
                            : !strcmp(kind, "pre")     ? "Precondition:"
                            : !strcmp(kind, "post")    ? "Postcondition:"
                                                       : "Note:";
        const node *t = child(n, "title");
        if (t) {
            char *tt = plain_of(t);
            bputs(&pg->out, ".PP\n\\fB");
            esc(&pg->out, tt);
            bputs(&pg->out, "\\fR\n.RS 4\n");
            free(tt);
        } else {
            bprintf(&pg->out, ".PP\n\\fB%s\\fR\n.RS 4\n", title);
        }
        item_body(pg, n);
        bputs(&pg->out, ".RE\n");
    } else if (is(n, "programlisting") || is(n, "verbatim")) {
        bputs(&pg->out, ".PP\n.RS 4\n.nf\n");
        if (is(n, "verbatim")) {
            char *t = plain_of(n);
            esc(&pg->out, t);
            bputs(&pg->out, "\n");
            free(t);
        }
        for (size_t i = 0; i < n->nkid; i++) {
            if (!is(n->kid[i], "codeline")) continue;
            buf l = {0};
            /* code keeps its spacing: <sp/> is a space */
            const node *stack[64];
            size_t top = 0;
            stack[top++] = n->kid[i];
            while (top) {
                const node *c = stack[--top];
                if (!c->name) {
                    bputs(&l, c->text);
                } else if (is(c, "sp")) {
                    bputs(&l, " ");
                } else {
                    for (size_t k = c->nkid; k-- > 0 && top < 64;) stack[top++] = c->kid[k];
                }
            }
            esc(&pg->out, bstr(&l));
            bputs(&pg->out, "\n");
            free(l.s);
        }
        bputs(&pg->out, ".fi\n.RE\n");
    } else if (is(n, "table")) {
        for (size_t i = 0; i < n->nkid; i++) {
            const node *row = n->kid[i];
            if (!is(row, "row")) continue;
            int col = 0;
            for (size_t j = 0; j < row->nkid; j++) {
                if (!is(row->kid[j], "entry")) continue;
                char *t = plain_of(row->kid[j]);
                if (col == 0) {
                    bputs(&pg->out, ".TP\n");
                    esc(&pg->out, t);
                    bputs(&pg->out, "\n");
                } else {
                    esc(&pg->line, t);
                    bputs(&pg->line, " ");
                }
                col++;
                free(t);
            }
            flush_line(pg);
        }
    } else if (is(n, "xrefsect")) { /* @deprecated, @todo, ... */
        char *tt = plain_of(child(n, "xreftitle"));
        bputs(&pg->out, ".PP\n\\fB");
        esc(&pg->out, tt);
        bputs(&pg->out, ":\\fR\n.RS 4\n");
        free(tt);
        const node *d = child(n, "xrefdescription");
        if (d) item_body(pg, d);
        bputs(&pg->out, ".RE\n");
    } else if (is(n, "sect1") || is(n, "sect2") || is(n, "sect3") || is(n, "sect4")) {
        char *tt = plain_of(child(n, "title"));
        bputs(&pg->out, ".SS ");
        esc(&pg->out, tt);
        bputs(&pg->out, "\n");
        free(tt);
        for (size_t i = 0; i < n->nkid; i++)
            if (n->kid[i]->name && !is(n->kid[i], "title")) blocks(pg, n->kid[i]);
    } else if (is(n, "heading")) {
        char *tt = plain_of(n);
        bputs(&pg->out, ".SS ");
        esc(&pg->out, tt);
        bputs(&pg->out, "\n");
        free(tt);
    } else if (is(n, "blockquote")) {
        bputs(&pg->out, ".RS 4\n");
        for (size_t i = 0; i < n->nkid; i++)
            if (n->kid[i]->name) blocks(pg, n->kid[i]);
        bputs(&pg->out, ".RE\n");
    } else if (is(n, "briefdescription") || is(n, "detaileddescription") ||
               is(n, "parameterdescription")) {
        for (size_t i = 0; i < n->nkid; i++)
            if (n->kid[i]->name) blocks(pg, n->kid[i]);
    } else {
        inlines(pg, n);
        flush_line(pg);
    }
}

static int has_text(const node *n) {
    if (!n) return 0;
    char *t = plain_of(n);
    int r = t[0] != 0;
    free(t);
    return r;
}

/* One line for NAME and the header listings: the brief, else the first sentence of the
 * detailed description. */
static char *summary(const node *n) {
    char *t = plain_of(child(n, "briefdescription"));
    if (!t[0]) {
        free(t);
        const node *d = child(n, "detaileddescription");
        const node *p = d ? child(d, "para") : NULL;
        buf b = {0};
        if (p) /* text of the first paragraph, without nested lists or parameter lists */
            for (size_t i = 0; i < p->nkid; i++) {
                const node *k = p->kid[i];
                if (k->name && (is(k, "parameterlist") || is(k, "simplesect") ||
                                is(k, "itemizedlist") || is(k, "programlisting")))
                    break;
                plain(&b, k);
            }
        t = xstrdup(bstr(&b));
        free(b.s);
        char *dot = strstr(t, ". ");
        if (dot) dot[1] = 0;
    }
    size_t n2 = strlen(t);
    while (n2 && (t[n2 - 1] == ' ' || t[n2 - 1] == '.')) t[--n2] = 0;
    char *st = t;
    while (*st == ' ') st++;
    memmove(t, st, strlen(st) + 1);
    if (!t[0]) {
        free(t);
        t = xstrdup("part of the libdr3 API");
    }
    return t;
}

static const char *g_title, *g_date, *g_outdir;

static void page_begin(page *pg, const char *name, const char *what) {
    memset(pg, 0, sizeof *pg);
    bputs(&pg->out, ".TH \"");
    esc(&pg->out, name);
    bprintf(&pg->out, "\" 3 \"%s\" \"%s\" \"libdr3 Programmer's Manual\"\n", g_date, g_title);
    bputs(&pg->out, ".SH NAME\n");
    esc(&pg->out, name);
    bputs(&pg->out, " \\- ");
    esc(&pg->out, what);
    bputs(&pg->out, "\n");
}

static void synopsis_include(page *pg, const sym *s) {
    bputs(&pg->out, ".SH SYNOPSIS\n.nf\n");
    if (s->experimental) bputs(&pg->out, "\\fB#define DR3_EXPERIMENTAL\\fR\n");
    bputs(&pg->out, "\\fB#include <");
    esc(&pg->out, s->header);
    bputs(&pg->out, ">\\fR\n");
}

static void description(page *pg, const sym *s) {
    const node *n = s->n;
    if (!s->experimental && !has_text(child(n, "briefdescription")) &&
        !has_text(child(n, "detaileddescription")))
        return;
    bputs(&pg->out, ".SH DESCRIPTION\n");
    if (s->experimental)
        bputs(&pg->out,
              ".PP\n\\fBExperimental:\\fR declared only when \\fBDR3_EXPERIMENTAL\\fR is "
              "defined before the header is included; it may change or go away in any "
              "release (docs/api\\-stability.md).\n");
    blocks(pg, child(n, "briefdescription"));
    blocks(pg, child(n, "detaileddescription"));
}

static void see_also(page *pg, const sym *self, const char *header) {
    char *hp = header_page(header);
    buf list = {0};
    for (size_t i = 0; i < pg->nrefs; i++) {
        if (pg->refs[i] == self) continue;
        bprintf(&list, "%s\\fB", list.n ? ",\n" : "");
        esc(&list, pg->refs[i]->name);
        bputs(&list, "\\fR(3)");
    }
    if (!self || self->kind != K_FILE) {
        bprintf(&list, "%s\\fB", list.n ? ",\n" : "");
        esc(&list, hp);
        bputs(&list, "\\fR(3)");
    }
    if (list.n) {
        bputs(&pg->out, ".SH SEE ALSO\n");
        bputs(&pg->out, bstr(&list));
        bputs(&pg->out, "\n");
    }
    free(list.s);
    free(hp);
}

static void page_write(page *pg, const char *name) {
    buf path = {0};
    bprintf(&path, "%s/%s.3", g_outdir, name);
    FILE *f = fopen(bstr(&path), "wb");
    if (!f) die("%s: %s", bstr(&path), strerror(errno));
    fwrite(bstr(&pg->out), 1, pg->out.n, f);
    if (fclose(f)) die("%s: write failed", bstr(&path));
    free(path.s);
    free(pg->out.s);
    free(pg->line.s);
}

/* "type name args" on one line, wrapped after commas at about 78 columns under the '(' */
static void prototype(buf *b, const char *decl) {
    const char *open = strchr(decl, '(');
    size_t indent = open ? (size_t)(open - decl) + 1 : 4;
    if (indent > 40) indent = 8;
    size_t col = 0;
    const char *s = decl;
    while (*s) {
        const char *comma = strchr(s, ',');
        const char *end = comma ? comma + 1 : s + strlen(s);
        size_t len = (size_t)(end - s);
        if (col > indent && col + len > 78) {
            bputs(b, "\n");
            for (size_t i = 0; i < indent; i++) bputs(b, " ");
            col = indent;
            while (*s == ' ') s++, len--;
        }
        buf piece = {0};
        bput(&piece, s, len);
        esc(b, bstr(&piece));
        free(piece.s);
        col += len;
        s = end;
    }
}

static void normalise_space(char *s);

/* Doxygen writes "(int a,...)": give the ellipsis its space */
static void space_ellipsis(buf *b) {
    if (!b->s || !strstr(b->s, ",...")) return;
    buf out = {0};
    for (const char *c = b->s; *c; c++) {
        bput(&out, c, 1);
        if (*c == ',' && !strncmp(c + 1, "...", 3)) bputs(&out, " ");
    }
    free(b->s);
    *b = out;
}

static void normalise_space(char *s) {
    char *w = s;
    int sp = 0;
    for (char *r = s; *r; r++) {
        if (isspace((unsigned char)*r)) {
            sp = 1;
            continue;
        }
        if (sp && w != s) *w++ = ' ';
        sp = 0;
        *w++ = *r;
    }
    *w = 0;
}

static void gen_function(sym *s) {
    page pg;
    char *sum = summary(s->n);
    page_begin(&pg, s->name, sum);
    synopsis_include(&pg, s);
    buf decl = {0};
    char *type = plain_of(child(s->n, "type"));
    char *args = plain_of(child(s->n, "argsstring"));
    bprintf(&decl, "%s%s%s%s;", type,
            type[strlen(type) ? strlen(type) - 1 : 0] == '*' ? "" : " ", s->name, args);
    normalise_space(decl.s);
    space_ellipsis(&decl);
    bputs(&pg.out, ".PP\n\\fB");
    prototype(&pg.out, bstr(&decl));
    bputs(&pg.out, "\\fR\n.fi\n");
    description(&pg, s);
    see_also(&pg, s, s->header);
    page_write(&pg, s->name);
    free(decl.s);
    free(type);
    free(args);
    free(sum);
}

static void gen_define(sym *s) {
    page pg;
    char *sum = summary(s->n);
    page_begin(&pg, s->name, sum);
    synopsis_include(&pg, s);
    buf d = {0};
    bprintf(&d, "#define %s", s->name);
    const node *params = NULL;
    int np = 0;
    for (size_t i = 0; i < s->n->nkid; i++)
        if (is(s->n->kid[i], "param")) {
            char *p = plain_of(s->n->kid[i]);
            bprintf(&d, "%s%s", np++ ? ", " : "(", p);
            free(p);
            params = s->n->kid[i];
        }
    if (params) bputs(&d, ")");
    char *init = plain_of(child(s->n, "initializer"));
    for (char *c = init; *c; c++)
        if (*c == '\\') *c = ' ';
    normalise_space(init);
    if (init[0]) bprintf(&d, " %s", init);
    bputs(&pg.out, ".PP\n\\fB");
    prototype(&pg.out, bstr(&d));
    bputs(&pg.out, "\\fR\n.fi\n");
    description(&pg, s);
    see_also(&pg, s, s->header);
    page_write(&pg, s->name);
    free(d.s);
    free(init);
    free(sum);
}

static void gen_typedef(sym *s) {
    page pg;
    char *sum = summary(s->n);
    page_begin(&pg, s->name, sum);
    synopsis_include(&pg, s);
    buf d = {0};
    char *def = plain_of(child(s->n, "definition"));
    char *args = plain_of(child(s->n, "argsstring"));
    bprintf(&d, "%s%s;", def, args);
    normalise_space(d.s);
    bputs(&pg.out, ".PP\n\\fB");
    prototype(&pg.out, bstr(&d));
    bputs(&pg.out, "\\fR\n.fi\n");
    description(&pg, s);
    see_also(&pg, s, s->header);
    page_write(&pg, s->name);
    free(d.s);
    free(def);
    free(args);
    free(sum);
}

/* brief + detailed description of a field or value under its .TP tag */
static void item_description(page *pg, const node *n) {
    int first = 1;
    const char *which[] = {"briefdescription", "detaileddescription"};
    for (int w = 0; w < 2; w++) {
        const node *dd = child(n, which[w]);
        if (!dd) continue;
        for (size_t k = 0; k < dd->nkid; k++) {
            if (!dd->kid[k]->name) continue;
            if (is(dd->kid[k], "para")) {
                if (!first) bputs(&pg->out, ".IP\n");
                inlines(pg, dd->kid[k]);
                flush_line(pg);
                first = 0;
            } else {
                blocks(pg, dd->kid[k]);
            }
        }
    }
}

static void enum_values(page *pg, const node *e) {
    for (size_t i = 0; i < e->nkid; i++) {
        const node *v = e->kid[i];
        if (!is(v, "enumvalue")) continue;
        char *nm = plain_of(child(v, "name"));
        char *init = plain_of(child(v, "initializer"));
        bputs(&pg->out, ".TP\n\\fB");
        esc(&pg->out, nm);
        bputs(&pg->out, "\\fR");
        if (init[0]) {
            bputs(&pg->out, " ");
            esc(&pg->out, init);
        }
        bputs(&pg->out, "\n");
        item_description(pg, v);
        free(nm);
        free(init);
    }
}

static void enum_synopsis(page *pg, const char *name, const node *e) {
    bputs(&pg->out, ".PP\n\\fBtypedef enum ");
    esc(&pg->out, name);
    bputs(&pg->out, " {\\fR\n");
    size_t n = 0, total = 0;
    for (size_t i = 0; i < e->nkid; i++) total += is(e->kid[i], "enumvalue");
    for (size_t i = 0; i < e->nkid; i++) {
        const node *v = e->kid[i];
        if (!is(v, "enumvalue")) continue;
        char *nm = plain_of(child(v, "name"));
        char *init = plain_of(child(v, "initializer"));
        bputs(&pg->out, "\\fB    ");
        esc(&pg->out, nm);
        if (init[0]) {
            bputs(&pg->out, " ");
            esc(&pg->out, init);
        }
        bprintf(&pg->out, "%s\\fR\n", ++n < total ? "," : "");
        free(nm);
        free(init);
    }
    bputs(&pg->out, "\\fB} ");
    esc(&pg->out, name);
    bputs(&pg->out, ";\\fR\n.fi\n");
}

static void gen_enum(sym *s) {
    page pg;
    char *sum = summary(s->n);
    page_begin(&pg, s->name, sum);
    synopsis_include(&pg, s);
    enum_synopsis(&pg, s->name, s->n);
    description(&pg, s);
    bputs(&pg.out, ".SH VALUES\n");
    enum_values(&pg, s->n);
    see_also(&pg, s, s->header);
    page_write(&pg, s->name);
    free(sum);
}

static void gen_struct(sym *s) {
    page pg;
    char *sum = summary(s->n);
    page_begin(&pg, s->name, sum);
    synopsis_include(&pg, s);
    int typedefd = find_sym(s->name, K_TYPEDEF) != NULL;
    bputs(&pg.out, ".PP\n\\fB");
    const char *ckind = attr(s->n, "kind");
    bprintf(&pg.out, "%s%s ", typedefd ? "typedef " : "", ckind ? ckind : "struct");
    esc(&pg.out, s->name);
    bputs(&pg.out, " {\\fR\n");
    /* fields in declaration order */
    const node *fields[256];
    size_t nf = 0;
    for (size_t i = 0; i < s->n->nkid; i++) {
        const node *sec = s->n->kid[i];
        if (!is(sec, "sectiondef")) continue;
        for (size_t j = 0; j < sec->nkid && nf < 256; j++)
            if (is(sec->kid[j], "memberdef")) fields[nf++] = sec->kid[j];
    }
    for (size_t i = 0; i < nf; i++) {
        char *type = plain_of(child(fields[i], "type"));
        char *nm = plain_of(child(fields[i], "name"));
        char *args = plain_of(child(fields[i], "argsstring"));
        buf d = {0};
        /* function-pointer fields: type "int(*", args ")(void *p)" */
        size_t tl = strlen(type);
        if (tl >= 2 && !strcmp(type + tl - 2, "(*") && (tl == 2 || type[tl - 3] != ' ')) {
            type = xrealloc(type, tl + 2); /* "int(*" -> "int (*" */
            memmove(type + tl - 1, type + tl - 2, 3);
            type[tl - 2] = ' ';
            tl++;
        }
        bprintf(&d, "%s%s%s%s;", type,
                tl && (type[tl - 1] == '*' || type[tl - 1] == '(') ? "" : " ", nm, args);
        normalise_space(d.s);
        bputs(&pg.out, "\\fB    ");
        esc(&pg.out, bstr(&d));
        bputs(&pg.out, "\\fR\n");
        free(d.s);
        free(type);
        free(nm);
        free(args);
    }
    bputs(&pg.out, "\\fB}");
    if (typedefd) {
        bputs(&pg.out, " ");
        esc(&pg.out, s->name);
    }
    bputs(&pg.out, ";\\fR\n.fi\n");
    description(&pg, s);
    if (nf) {
        bputs(&pg.out, ".SH FIELDS\n");
        for (size_t i = 0; i < nf; i++) {
            char *nm = plain_of(child(fields[i], "name"));
            bputs(&pg.out, ".TP\n\\fB");
            esc(&pg.out, nm);
            bputs(&pg.out, "\\fR\n");
            item_description(&pg, fields[i]);
            free(nm);
        }
    }
    /* the initializer macro, by convention DR3_<NAME>_INIT */
    buf init = {0};
    for (const char *c = s->name; *c; c++) {
        char u = (char)toupper((unsigned char)*c);
        bput(&init, &u, 1);
    }
    bputs(&init, "_INIT");
    if (find_sym(bstr(&init), K_DEFINE)) add_ref(&pg, bstr(&init));
    free(init.s);
    see_also(&pg, s, s->header);
    page_write(&pg, s->name);
    free(sum);
}

static int cmp_sym(const void *a, const void *b) {
    const sym *x = *(sym *const *)a, *y = *(sym *const *)b;
    return strcmp(x->name, y->name);
}

static void gen_header(sym *f) {
    page pg;
    char *sum = summary(f->n);
    page_begin(&pg, f->name, sum);
    synopsis_include(&pg, f);
    bputs(&pg.out, ".fi\n");
    description(&pg, f);
    /* what the header declares, by kind */
    static const enum kind order[] = {K_FUNC, K_STRUCT, K_ENUM, K_TYPEDEF, K_DEFINE};
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
        sym *list[1024];
        size_t n = 0;
        for (size_t i = 0; i < nsyms && n < 1024; i++)
            if (syms[i].kind == order[o] && !strcmp(syms[i].header, f->header) &&
                !(order[o] == K_TYPEDEF &&
                  (find_sym(syms[i].name, K_STRUCT) || find_sym(syms[i].name, K_ENUM))))
                list[n++] = &syms[i];
        if (!n) continue;
        qsort(list, n, sizeof list[0], cmp_sym);
        bprintf(&pg.out, ".SH %s\n", kind_title[order[o]]);
        for (size_t i = 0; i < n; i++) {
            char *s = summary(list[i]->n);
            bputs(&pg.out, ".TP\n\\fB");
            esc(&pg.out, list[i]->name);
            bputs(&pg.out, "\\fR(3)\n");
            if (list[i]->experimental) bputs(&pg.out, "(experimental) ");
            esc(&pg.out, s);
            bputs(&pg.out, "\n");
            free(s);
        }
    }
    /* anonymous enums (flag sets): documented here in full */
    const node *anon[64];
    size_t na = 0;
    for (size_t i = 0; i < nsyms; i++)
        if (syms[i].kind == K_ENUMVALUE && !strcmp(syms[i].header, f->header) &&
            syms[i].so_target && !strcmp(syms[i].so_target, f->name)) {
            size_t k;
            for (k = 0; k < na && anon[k] != syms[i].owner_enum; k++) {
            }
            if (k == na && na < 64) anon[na++] = syms[i].owner_enum;
        }
    if (na) {
        bputs(&pg.out, ".SH CONSTANTS\n");
        for (size_t k = 0; k < na; k++) {
            blocks(&pg, child(anon[k], "briefdescription"));
            blocks(&pg, child(anon[k], "detaileddescription"));
            enum_values(&pg, anon[k]);
        }
    }
    /* other headers it includes from libdr3 */
    for (size_t i = 0; i < f->n->nkid; i++) {
        const node *inc = f->n->kid[i];
        if (!is(inc, "includes")) continue;
        char *h = plain_of(inc);
        if (!strncmp(h, "dr3/", 4)) {
            char *hp = header_page(h);
            add_ref(&pg, hp);
            free(hp);
        }
        free(h);
    }
    see_also(&pg, f, f->header);
    page_write(&pg, f->name);
    free(sum);
}

static void gen_so(sym *s) {
    page pg;
    memset(&pg, 0, sizeof pg);
    bprintf(&pg.out, ".so man3/%s.3\n", s->so_target);
    page_write(&pg, s->name);
}

/* ---- reading the XML -------------------------------------------------------------------- */

static const char *g_xmldir;
static node *docs[1024]; /* every document read, freed at exit */
static size_t ndocs;
static char *strings[1024]; /* header page names shared by enumerator pages */
static size_t nstrings;

static node *load_compound(const char *refid) {
    buf p = {0};
    bprintf(&p, "%s/%s.xml", g_xmldir, refid);
    node *doc = load_xml(bstr(&p));
    free(p.s);
    if (ndocs == sizeof docs / sizeof docs[0]) die("too many compounds");
    docs[ndocs++] = doc;
    const node *dx = child(doc, "doxygen");
    node *cd = dx ? child(dx, "compounddef") : NULL;
    if (!cd) die("%s: no compounddef", refid);
    return cd;
}

static void read_file_compound(node *cd) {
    const char *header = location_file(cd);
    if (strncmp(header, "dr3/", 4)) return; /* the main page and other inputs */
    char *hp = header_page(header);
    if (nstrings == sizeof strings / sizeof strings[0]) die("too many headers");
    strings[nstrings++] = hp;
    add_sym(K_FILE, hp, header, cd);
    for (size_t i = 0; i < cd->nkid; i++) {
        const node *sec = cd->kid[i];
        if (!is(sec, "sectiondef")) continue;
        for (size_t j = 0; j < sec->nkid; j++) {
            const node *m = sec->kid[j];
            if (!is(m, "memberdef")) continue;
            const char *kind = attr(m, "kind");
            char *name = plain_of(child(m, "name"));
            if (!strcmp(kind, "function")) {
                add_sym(K_FUNC, name, header, m);
            } else if (!strcmp(kind, "define")) {
                add_sym(K_DEFINE, name, header, m);
            } else if (!strcmp(kind, "typedef")) {
                add_sym(K_TYPEDEF, name, header, m);
            } else if (!strcmp(kind, "enum")) {
                int anonymous = name[0] == '@';
                if (!anonymous) add_sym(K_ENUM, name, header, m);
                for (size_t k = 0; k < m->nkid; k++) {
                    if (!is(m->kid[k], "enumvalue")) continue;
                    char *vn = plain_of(child(m->kid[k], "name"));
                    sym *v = add_sym(K_ENUMVALUE, vn, header, m->kid[k]);
                    v->owner_enum = m;
                    v->so_target = anonymous ? hp : find_sym(name, K_ENUM)->name;
                    free(vn);
                }
            }
            free(name);
        }
    }
}

/* ---- experimental declarations: inside #ifdef DR3_EXPERIMENTAL in the header ----------- */

static const char **g_incdirs;
static int g_nincdirs;

static int is_experimental_cond(const char *d) {
    return strstr(d, "DR3_EXPERIMENTAL") != NULL && strncmp(d, "ifndef", 6) != 0 &&
           !strstr(d, "!defined") && !strstr(d, "! defined");
}

/* 1 if line `line` (1-based) of `header` sits inside an experimental conditional */
static int experimental_at(const char *header, long line) {
    for (int i = 0; i < g_nincdirs; i++) {
        buf path = {0};
        bprintf(&path, "%s/%s", g_incdirs[i], header);
        FILE *f = fopen(bstr(&path), "r");
        free(path.s);
        if (!f) continue;
        char l[4096];
        int stack[64], top = 0, depth_exp = 0, result = 0;
        long n = 0;
        while (fgets(l, sizeof l, f)) {
            n++;
            if (n == line) {
                result = depth_exp > 0;
                break;
            }
            const char *p = l;
            while (*p == ' ' || *p == '\t') p++;
            if (*p != '#') continue;
            p++;
            while (*p == ' ' || *p == '\t') p++;
            if (!strncmp(p, "if", 2)) {
                int e = is_experimental_cond(p);
                if (top < 64) stack[top++] = e;
                depth_exp += e;
            } else if (!strncmp(p, "el", 2) && top) { /* #else, #elif: the other branch */
                depth_exp -= stack[top - 1];
                stack[top - 1] = 0;
            } else if (!strncmp(p, "endif", 5) && top) {
                depth_exp -= stack[--top];
            }
        }
        fclose(f);
        return result;
    }
    return 0;
}

static long location_line(const node *n) {
    const node *loc = child(n, "location");
    const char *l = loc ? attr(loc, "line") : NULL;
    return l ? strtol(l, NULL, 10) : 0;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr,
                "usage: %s <doxygen-xml-dir> <output-dir> <title> <date> [<include-dir>...]\n",
                argv[0]);
        return 2;
    }
    g_incdirs = (const char **)argv + 5;
    g_nincdirs = argc - 5;
    g_xmldir = argv[1];
    g_outdir = argv[2];
    g_title = argv[3];
    g_date = argv[4];

    buf ip = {0};
    bprintf(&ip, "%s/index.xml", g_xmldir);
    node *index = load_xml(bstr(&ip));
    free(ip.s);
    const node *di = child(index, "doxygenindex");
    if (!di) die("index.xml: no doxygenindex");
    /* files first (functions, enums, typedefs, macros), then structs */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < di->nkid; i++) {
            const node *c = di->kid[i];
            if (!is(c, "compound")) continue;
            const char *kind = attr(c, "kind");
            if (pass == 0 && !strcmp(kind, "file")) {
                read_file_compound(load_compound(attr(c, "refid")));
            } else if (pass == 1 && (!strcmp(kind, "struct") || !strcmp(kind, "union"))) {
                node *cd = load_compound(attr(c, "refid"));
                char *name = plain_of(child(cd, "compoundname"));
                add_sym(K_STRUCT, name, location_file(cd), cd);
                free(name);
            }
        }

    for (size_t i = 0; i < nsyms; i++)
        if (syms[i].kind != K_FILE)
            syms[i].experimental = experimental_at(syms[i].header, location_line(syms[i].n));

    size_t pages = 0;
    for (size_t i = 0; i < nsyms; i++) {
        sym *s = &syms[i];
        switch (s->kind) {
        case K_FUNC:
            gen_function(s);
            break;
        case K_DEFINE:
            gen_define(s);
            break;
        case K_TYPEDEF: {
            /* typedef struct X {...} X / typedef enum X X: the struct or enum page serves */
            sym *st = find_sym(s->name, K_STRUCT);
            sym *en = find_sym(s->name, K_ENUM);
            if (st || en) continue;
            gen_typedef(s);
            break;
        }
        case K_ENUM:
            gen_enum(s);
            break;
        case K_STRUCT:
            gen_struct(s);
            break;
        case K_ENUMVALUE:
            gen_so(s);
            break;
        case K_FILE:
            gen_header(s);
            break;
        }
        pages++;
    }
    printf("mangen: %zu pages in %s\n", pages, g_outdir);
    for (size_t i = 0; i < nsyms; i++) {
        free(syms[i].name);
        free(syms[i].header);
    }
    free(syms);
    for (size_t i = 0; i < ndocs; i++) free_node(docs[i]);
    for (size_t i = 0; i < nstrings; i++) free(strings[i]);
    free_node(index);
    return 0;
}
