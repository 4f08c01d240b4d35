#!/usr/bin/env python3
# tests/gen-options.py [cr.c]: write docs/options.md (on stdout) from cr.c's
# one option table (CR_OPTIONS: flag, short flag, type, commands, ini section
# and key, default, accepted words or maximum, argument, help), its command
# table (cmds[]) and its ini sections (sections[]). `make docs` runs it;
# test.sh checks that docs/options.md is what it makes now. It reads the
# tables as text and compiles nothing. tests/check-docs.py imports it.
import os
import re
import sys

TYPES = ('T_STR', 'T_BOOL', 'T_UINT', 'T_LIST')


def c_tokens(s):
    """C tokens of a macro row: string literals (decoded), char literals,
    identifiers, numbers and punctuation."""
    toks, i = [], 0
    esc = {'n': '\n', 't': '\t', '\\': '\\', '"': '"', "'": "'", '0': '\0'}
    while i < len(s):
        c = s[i]
        if c.isspace() or c == '\\' and s[i + 1:i + 2] == '\n':
            i += 1
        elif c in '"\'':
            j, out = i + 1, ''
            while s[j] != c:
                if s[j] == '\\':
                    j += 1
                    out += esc.get(s[j], s[j])
                else:
                    out += s[j]
                j += 1
            toks.append(('str' if c == '"' else 'chr', out))
            i = j + 1
        elif c.isalnum() or c == '_':
            j = i
            while j < len(s) and (s[j].isalnum() or s[j] == '_'):
                j += 1
            toks.append(('id', s[i:j]))
            i = j
        else:
            toks.append(('p', c))
            i += 1
    return toks


def split_args(toks):
    """The arguments of one X(...) as lists of tokens; adjacent string
    literals are joined, as C does."""
    args, cur, depth = [], [], 0
    for t in toks:
        if t == ('p', '(') and depth == 0:
            depth = 1
            continue
        if t == ('p', '(') :
            depth += 1
        elif t == ('p', ')'):
            depth -= 1
            if depth == 0:
                args.append(cur)
                break
        if t == ('p', ',') and depth == 1:
            args.append(cur)
            cur = []
            continue
        if cur and t[0] == 'str' and cur[-1][0] == 'str':
            cur[-1] = ('str', cur[-1][1] + t[1])
        else:
            cur.append(t)
    return args


class Tables:
    def __init__(self, path):
        src = open(path).read()
        # the C_* command bits and their unions
        self.bits = {}
        for name, expr in re.findall(r'^#define (C_[A-Z]+) \((.*)\)$', src, re.M):
            py = re.sub(r'(\d+)u\b', r'\1', expr)
            py = re.sub(r'\bC_[A-Z]+\b', lambda m: str(self.bits[m.group(0)]), py)
            if not re.fullmatch(r'[0-9<| ()]+', py):
                sys.exit('%s: cannot read #define %s (%s)' % (path, name, expr))
            self.bits[name] = eval(py)
        # the option table
        m = re.search(r'^#define CR_OPTIONS\(X\) \\\n(.*?)\n\n', src, re.M | re.S)
        if not m:
            sys.exit('%s: no CR_OPTIONS table' % path)
        self.opts = []
        for row in re.findall(r'^\tX\((.*?)\)\s*\\?$', m.group(1), re.M):
            a = split_args([('p', '(')] + c_tokens(row) + [('p', ')')])
            if len(a) != 11:
                sys.exit('%s: an option row with %d fields: X(%s)' % (path, len(a), row))
            field, lng, shrt, typ, cmds, sec, key, dflt, choices, meta, hlp = a
            s = lambda f: f[0][1] if len(f) == 1 and f[0][0] == 'str' else sys.exit('%s: not a string in X(%s)' % (path, row))
            cexpr = ''.join(t[1] for t in cmds)
            mask = 0
            for part in cexpr.split('|'):
                mask |= self.bits[part.strip()]
            self.opts.append(dict(
                field=field[0][1], name=s(lng), short=shrt[0][1] if shrt[0][0] == 'chr' else '',
                type=typ[0][1], cmds=mask, section=s(sec), key=s(key) or s(lng), default=s(dflt),
                choices=s(choices), meta=s(meta), help=s(hlp)))
            if self.opts[-1]['type'] not in TYPES:
                sys.exit('%s: unknown type in X(%s)' % (path, row))
        # the commands
        m = re.search(r'^\} cmds\[\] = \{\n(.*?)^\};', src, re.M | re.S)
        if not m:
            sys.exit('%s: no cmds[] table' % path)
        self.cmds = []
        for name, bit, args, hlp in re.findall(r'^\t\{ "([^"]*)", (C_[A-Z]+), "([^"]*)", "((?:[^"\\]|\\.)*)" \},$',
                                               m.group(1), re.M):
            self.cmds.append(dict(name=name, bit=self.bits[bit], args=args, help=hlp.replace('\\"', '"')))
        if len(self.cmds) != m.group(1).count('{ "'):
            sys.exit('%s: cannot read every row of cmds[]' % path)
        # the ini sections: name -> command bits
        m = re.search(r'^\} sections\[\] = \{\n(.*?)^\};', src, re.M | re.S)
        self.sections = [(n, sum(self.bits[b] for b in bits.split(' | ')))
                         for n, bits in re.findall(r'\{ "([^"]*)", ([C_A-Z |]+) \}', m.group(1))]
        # "dump" is checkpoint's alias (cfg_parse_argv)
        self.aliases = {'dump': 'checkpoint'}
        self.G = self.bits['C_G']

    def cmd(self, name):
        name = self.aliases.get(name, name)
        for c in self.cmds:
            if c['name'] == name:
                return c
        return None

    def valid(self, o, cmd):
        """Whether option o may follow command cmd (None: before the command)."""
        return bool(o['cmds'] & ((cmd['bit'] if cmd else 0) | self.G))

    def find(self, flag):
        for o in self.opts:
            if flag == '--' + o['name'] or o['short'] and flag == '-' + o['short']:
                return o
        return None

    def ini_key(self, o, cmd):
        """Where the ini file sets o for cmd ('' if nowhere)."""
        if o['section'] == '-':
            return ''
        if o['section']:
            return '[%s] %s' % (o['section'], o['key'])
        for name, bits in self.sections:
            if bits & cmd['bit'] and not bits & self.G:
                return '[%s] %s' % (name, o['key'])
        return ''


def cell(s):
    return s.replace('|', '\\|')


def row(t, o, cmd):
    flag = ('`-%s`, ' % o['short'] if o['short'] else '') + '`--%s`' % o['name']
    if o['type'] == 'T_BOOL':
        arg = '`[=BOOL]`'
    else:
        arg = '`%s`' % o['meta']
        if o['type'] == 'T_STR' and o['choices']:
            arg += ': ' + ', '.join('`%s`' % w for w in o['choices'].split('|'))
        elif o['type'] == 'T_UINT' and o['choices']:
            arg += ', at most %s' % o['choices']
        elif o['type'] == 'T_LIST':
            arg += ', repeatable'
    # the default as --help shows it (usage_options): none for booleans and
    # lists, and none for receive's -D (a new $TMPDIR/cr-receive.* by default)
    dflt = o['default']
    if o['type'] in ('T_BOOL', 'T_LIST') or cmd and cmd['name'] == 'receive' and o['name'] == 'image-path':
        dflt = ''
    ini = t.ini_key(o, cmd) if cmd else ('[%s] %s' % (o['section'], o['key']) if o['section'] not in ('', '-') else '')
    return '| %s | %s | %s | %s | %s |' % (flag, cell(arg), '`%s`' % cell(dflt) if dflt else '',
                                           '`%s`' % ini if ini else '', cell(o['help']))


def generate(path):
    t = Tables(path)
    head = '| flag | argument | default | ini key | what it does |\n|---|---|---|---|---|'
    out = ['# Options', '',
           '<!-- generated by tests/gen-options.py from cr.c; edit the tables there and run make docs -->', '',
           'Every flag of every command, from the one option table in `cr.c`',
           '(`CR_OPTIONS`) and its command table (`cmds[]`): `make docs` writes this',
           'page, and the tests check that it is current. `cr COMMAND --help` prints',
           'the same. Boolean flags take an optional value (`--freeze=false`);',
           'values come from the defaults, then the ini file, then the command line',
           '([Configuration](configuration.md)).', '',
           '## Global options', '',
           'Accepted before the command and after it, by every command.', '', head]
    for o in t.opts:
        if o['cmds'] & t.G:
            out.append(row(t, o, None))
    out += ['| `-h`, `--help` | | | | show the help; `COMMAND --help` shows its options |',
            '| `-V`, `--version` | | | | print cr\'s version |']
    for c in t.cmds:
        if c['bit'] == t.G:
            continue
        out += ['', '## cr %s%s' % (c['name'], ' ' + c['args'] if c['args'] else ''), '',
                '%s%s.' % (c['help'][0].upper(), c['help'][1:]), '']
        opts = [o for o in t.opts if o['cmds'] & c['bit'] and not o['cmds'] & t.G]
        if opts:
            out += [head] + [row(t, o, c) for o in opts] + ['']
        out.append('%s the global options.' % ('And' if opts else 'Only'))
    out += ['', '## cr version', '']
    for c in t.cmds:
        if c['bit'] == t.G:
            out += ['%s%s; the global options only.' % (c['help'][0].upper(), c['help'][1:])]
    return '\n'.join(out) + '\n'


if __name__ == '__main__':
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'cr.c')
    sys.stdout.write(generate(path))
