# probe-modules: cmd code codeop
# A line-oriented command interpreter driven by a script (completion,
# help, unknown commands, EOF); an interactive console fed lines that are
# complete, incomplete and wrong.
import cmd
import code
import codeop
import io
import sys


class Shell(cmd.Cmd):
    prompt = "(fir) "
    intro = "filter shell"

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.taps = []
        self.use_rawinput = False

    def do_add(self, arg):
        """add N...: append taps"""
        for word in arg.split():
            try:
                self.taps.append(float(word))
            except ValueError:
                self.stdout.write("bad tap %r\n" % word)

    def do_show(self, arg):
        self.stdout.write("%d taps, sum %.3f\n" % (len(self.taps), sum(self.taps)))

    def complete_add(self, text, line, begidx, endidx):
        return [w for w in ("0.25", "0.5", "1.0") if w.startswith(text)]

    def do_quit(self, arg):
        return True

    do_EOF = do_quit

    def default(self, line):
        self.stdout.write("?? %s\n" % line)

    def postcmd(self, stop, line):
        return stop or line == "stop"


script = "add 0.25 0.5 x\nshow\n\n!shell thing\nhelp\nhelp add\nhelp nope\nfrob 1\n?\nshow\n"
out = io.StringIO()
sh = Shell(stdin=io.StringIO(script), stdout=out)
sh.cmdloop()
print(out.getvalue())
print(sh.completenames("sh"), sh.complete_add("0.", "add 0.", 4, 6), sh.parseline("add 1 2"), sh.parseline("?x"))
sh2 = Shell(stdin=io.StringIO("add 1\nstop\nshow\n"), stdout=io.StringIO())
sh2.cmdloop(intro="")
print(sh2.taps, sh2.lastcmd)

for src in ["x = 1", "if x:", "if x:\n  y = 2\n", "def f(:", "x = (1,\n", "'''open", "1 +", "a b c", "\\"]:
    try:
        c = codeop.compile_command(src)
        print(repr(src), "complete" if c is not None else "incomplete")
    except SyntaxError as e:
        print(repr(src), "error", e.msg)

ns = {}
err = io.StringIO()
real = sys.stderr
sys.stderr = err
try:
    interp = code.InteractiveInterpreter(ns)
    for src in ["a = 6 * 7", "def g(n):\n    return n + a\n", "g(1)", "1/0", "b = (", "print(g(a))"]:
        print(repr(src), interp.runsource(src, "<shell>"))
    console = code.InteractiveConsole(ns, filename="<con>")
    for line in ["for k in range(3):", "    a += k", "", "a", "raise KeyError('x')", "z = [", "1]", "z"]:
        print(repr(line), console.push(line))
finally:
    sys.stderr = real
print(ns["a"], ns.get("z"), [l for l in err.getvalue().splitlines() if "Error" in l])
