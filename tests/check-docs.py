#!/usr/bin/env python3
# tests/check-docs.py CHECK: keep README.md and docs/*.md true to cr.c.
# test.sh (tier 0) runs each check; exit 0 when it holds, 1 with one line per
# problem. It reads cr.c's tables through tests/gen-options.py and executes
# nothing it finds in the documents.
#
#   options   docs/options.md is what tests/gen-options.py makes from cr.c now
#   coverage  every command of cmds[] has a section in docs/usage.md; every
#             flag of the option table is documented outside docs/options.md;
#             every --flag in a code span or block exists in the table, or is
#             another program's (NOT_CR below)
#   commands  every cr command line in a ``` block parses: the command exists,
#             each flag applies to it, values are among the accepted words,
#             the arguments are as many as the command takes
#   links     every relative link (and tests/vm/README.md's) leads to a file,
#             and its #anchor to a heading
import glob
import importlib.util
import os
import re
import shlex
import sys

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
spec = importlib.util.spec_from_file_location('gen_options', os.path.join(TOP, 'tests', 'gen-options.py'))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

# flags of other programs that the documents show (kexec, ld, CRIU's own CLI,
# llvm-objcopy)
NOT_CR = {'--append', '--initrd', '--gc-sections', '--ps-socket', '--strip-sections'}
# cr's own flags outside the option table (cfg_parse_argv)
BUILTIN = {'--help', '--version'}
# commands documented in the text of docs/usage.md rather than by a heading
NO_HEADING = {'version'}


def docs():
    return [os.path.join(TOP, 'README.md')] + sorted(glob.glob(os.path.join(TOP, 'docs', '*.md')))


def rel(p):
    return os.path.relpath(p, TOP)


def blocks(text):
    """(first line number, info string, lines) of each ``` block, and the
    text outside them (block lines blanked, so line numbers hold)."""
    out, outside, cur = [], [], None
    for n, l in enumerate(text.split('\n'), 1):
        m = re.match(r'^\s*```(.*)$', l)
        if m and cur is None:
            cur = (n + 1, m.group(1).strip(), [])
            outside.append('')
        elif m:
            out.append(cur)
            cur = None
            outside.append('')
        elif cur is not None:
            cur[2].append(l)
            outside.append('')
        else:
            outside.append(l)
    return out, '\n'.join(outside)


def spans(outside):
    """Code spans outside blocks (they may run over a line break)."""
    return re.findall(r'`([^`]+)`', outside)


def headings(text):
    _, outside = blocks(text)
    return [m.group(2) for m in re.finditer(r'^(#{1,6}) +(.*?)\s*$', outside, re.M)]


def slug(h):
    """GitHub's anchor for a heading."""
    h = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', h).replace('`', '').strip().lower()
    return re.sub(r'[^\w\- ]', '', h).replace(' ', '-')


def anchors(text):
    seen, out = {}, set()
    for h in headings(text):
        s = slug(h)
        out.add(s if s not in seen else '%s-%d' % (s, seen[s]))
        seen[s] = seen.get(s, 0) + 1
    return out


def check_options(t):
    want = gen.generate(os.path.join(TOP, 'cr.c'))
    path = os.path.join(TOP, 'docs', 'options.md')
    have = open(path).read() if os.path.exists(path) else ''
    if want == have:
        print('docs/options.md is current (%d options, %d commands)' % (len(t.opts), len(t.cmds)))
        return []
    import difflib
    diff = list(difflib.unified_diff(have.split('\n'), want.split('\n'), 'docs/options.md', 'generated', lineterm='', n=0))
    return ['docs/options.md is not what tests/gen-options.py makes from cr.c: run make docs'] + diff[:40]


def check_coverage(t):
    bad = []
    usage = open(os.path.join(TOP, 'docs', 'usage.md')).read()
    hs = headings(usage)
    for c in t.cmds:
        pat = r'(?<![\w-])cr %s(?![\w-])' % re.escape(c['name'])
        if c['name'] in NO_HEADING:
            if not re.search(pat, usage):
                bad.append('docs/usage.md does not name cr %s' % c['name'])
        elif not any(re.search(pat, h) for h in hs):
            bad.append('docs/usage.md has no section (heading) for cr %s' % c['name'])
    documented, mentioned = set(), {}
    for p in docs():
        text = open(p).read()
        bl, outside = blocks(text)
        code = spans(outside) + ['\n'.join(b[2]) for b in bl]
        for s in code:
            for f in re.findall(r'(?<![\w-])--[a-z][a-z0-9-]*', s):
                mentioned.setdefault(f, rel(p))
                if not p.endswith(os.path.join('docs', 'options.md')):
                    documented.add(f)
    for o in t.opts:
        if '--' + o['name'] not in documented:
            bad.append('--%s is documented nowhere but docs/options.md (README.md, docs/*.md)' % o['name'])
    known = {'--' + o['name'] for o in t.opts} | BUILTIN | NOT_CR
    for f, p in sorted(mentioned.items()):
        if f not in known:
            bad.append('%s: %s is no flag of cr (nor in tests/check-docs.py NOT_CR)' % (p, f))
    if not bad:
        print('%d commands with a section in docs/usage.md; %d flags documented; %d flags mentioned, all known'
              % (len(t.cmds), len(t.opts), len(mentioned)))
    return bad


def command_lines():
    """(file, line number, text) of each cr command line in a ``` block:
    every line of a sh block, and prompted lines ($, host#) of the others."""
    for p in docs():
        for start, info, lines in blocks(open(p).read())[0]:
            shell = info.split()[0] in ('sh', 'shell', 'bash', 'console') if info else False
            i = 0
            while i < len(lines):
                n, l = start + i, lines[i]
                while l.endswith('\\') and i + 1 < len(lines):
                    i += 1
                    l = l[:-1] + ' ' + lines[i].strip()
                i += 1
                m = re.match(r'^\s*(\$|[\w.-]+#)\s+(.*)$', l)
                if m:
                    l = m.group(2)
                elif not shell:
                    continue
                yield rel(p), n, l.strip()


def segments(line):
    lex = shlex.shlex(line, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    seg = []
    for tok in lex:
        if tok and all(ch in '();<>|&' for ch in tok):
            if tok[0] in '<>' and seg and seg[-1].isdigit():
                seg.pop()	# 2>file
            yield seg
            seg = []
            if tok[0] in '<>':
                seg = [None]	# the redirection's target: not a command
        else:
            seg.append(tok)
    yield seg


def parse_cr(t, args):
    """Problems with one cr command line (args: after 'cr'), and the
    nested command lines of its values (--via "ssh host cr receive")."""
    bad, nested, cmd, pos, given = [], [], None, [], set()
    i, no_more = 0, False
    while i < len(args):
        a = args[i]
        i += 1
        if no_more or not a.startswith('-') or a == '-':
            if cmd is None:
                cmd = t.cmd(a)
                if cmd is None:
                    return ['unknown command "%s"' % a], []
            else:
                pos.append(a)
            continue
        if a == '--':
            no_more = True
            continue
        if a in ('-h', '--help', '-V', '--version'):
            return bad, nested
        if a.startswith('--'):
            name, eq, val = a.partition('=')
            o = t.find(name)
            if o is None:
                bad.append('unknown option %s' % name)
                continue
            opts = [(o, name, val if eq else None)]
        else:
            opts = []
            for k, ch in enumerate(a[1:], 1):
                o = t.find('-' + ch)
                if o is None:
                    bad.append('unknown option -%s' % ch)
                    break
                if o['type'] == 'T_BOOL':
                    opts.append((o, '-' + ch, 'true'))
                    continue
                opts.append((o, '-' + ch, a[k + 1:] or None))
                break
        for o, name, val in opts:
            if not t.valid(o, cmd):
                bad.append('%s %s' % (name, 'belongs after the command' if cmd is None else
                                      'does not apply to %s' % cmd['name']))
            if val is None and o['type'] != 'T_BOOL':
                if i >= len(args):
                    bad.append('%s needs a value' % name)
                    continue
                val = args[i]
                i += 1
            given.add(o['name'])
            if val is None:
                continue
            placeholder = re.fullmatch(r'[A-Z][A-Z0-9_:=.-]*', val)
            if o['type'] == 'T_BOOL' and val not in ('true', 'false', 'yes', 'no', '1', '0', 'on', 'off'):
                bad.append('%s=%s: not a boolean' % (name, val))
            elif o['type'] == 'T_STR' and o['choices'] and not placeholder and val not in o['choices'].split('|'):
                bad.append('%s %s: not one of %s' % (name, val, o['choices'].replace('|', ', ')))
            elif o['type'] == 'T_UINT' and not placeholder and (not val.isdigit() or int(val) > int(o['choices'] or 2**32)):
                bad.append('%s %s: not a number up to %s' % (name, val, o['choices']))
            if ' ' in val:
                words = shlex.split(val)
                if 'cr' in words:
                    nested.append(words[words.index('cr') + 1:])
    if cmd is None:
        return bad + ['no command'], nested
    want = {'': (0, 0), 'DIR': (1, 1), 'PID': (0 if 'cgroup' in given else 1, 1)}[cmd['args']]
    if not want[0] <= len(pos) <= want[1]:
        bad.append('%s takes %s, given %d argument(s): %s' % (cmd['name'], cmd['args'] or 'no argument',
                                                            len(pos), ' '.join(pos)))
    return bad, nested


def check_commands(t):
    bad, n = [], 0
    for p, ln, line in command_lines():
        try:
            segs = list(segments(line))
        except ValueError as e:
            bad.append('%s:%d: %s: %s' % (p, ln, e, line))
            continue
        for seg in segs:
            while seg and seg[0] and re.match(r'^[A-Za-z_]\w*=', seg[0]):
                seg = seg[1:]	# VAR=value cr ...
            if not seg or seg[0] not in ('cr', './cr'):
                continue
            todo = [seg[1:]]
            while todo:
                args = todo.pop()
                n += 1
                problems, nested = parse_cr(t, args)
                todo += nested
                print('%s:%d: %s cr %s' % (p, ln, 'BAD' if problems else 'ok ', ' '.join(args)))
                bad += ['%s:%d: cr %s: %s' % (p, ln, ' '.join(args), e) for e in problems]
    if n == 0:
        bad.append('no cr command line found in the documents')
    else:
        print('%d cr command lines checked' % n)
    return bad


def check_links(t):
    bad, n = [], 0
    for p in docs() + [os.path.join(TOP, 'tests', 'vm', 'README.md')]:
        text = open(p).read()
        _, outside = blocks(text)
        for target in re.findall(r'\]\(([^)\s]+)\)', outside):
            if re.match(r'^[a-z]+:', target):
                continue
            n += 1
            path, _, anchor = target.partition('#')
            dest = os.path.normpath(os.path.join(os.path.dirname(p), path)) if path else p
            if not os.path.exists(dest):
                bad.append('%s: link to %s: no such file' % (rel(p), target))
            elif anchor and dest.endswith('.md') and anchor not in anchors(open(dest).read()):
                bad.append('%s: link to %s: %s has no heading #%s' % (rel(p), target, rel(dest), anchor))
    if not bad:
        print('%d relative links lead somewhere' % n)
    return bad


CHECKS = {'options': check_options, 'coverage': check_coverage, 'commands': check_commands, 'links': check_links}

if __name__ == '__main__':
    if len(sys.argv) != 2 or sys.argv[1] not in CHECKS:
        sys.exit('usage: %s %s' % (sys.argv[0], '|'.join(CHECKS)))
    problems = CHECKS[sys.argv[1]](gen.Tables(os.path.join(TOP, 'cr.c')))
    for e in problems:
        print(e)
    sys.exit(1 if problems else 0)
