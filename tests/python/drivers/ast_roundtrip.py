# probe-modules: ast
# probe-self: yes
# ast: parse, unparse (contextmanager-driven: delimit, block, buffered),
# NodeTransformer/NodeVisitor, literal_eval, dump, walk, fix/copy locations.
# The reference harness has imported `ast` already (so `_ast.Constant.n` and
# `_ast.Tuple.dims` exist there when the program's `import ast` runs):
# define them first so both runs skip ast.py's backward-compatibility block.
import _ast

for _cls, _attr, _field in ((_ast.Constant, "n", "value"), (_ast.Constant, "s", "value"), (_ast.Tuple, "dims", "elts")):
    setattr(_cls, _attr, property(lambda self, f=_field: getattr(self, f)))
import ast

SOURCES = [
    "def f(a, /, b=2, *args, c, d=4, **kw) -> int:\n    return (a + b) * c ** -d if a else [x for x in args if x]\n",
    "async def g():\n    async with a as (b, c):\n        async for i in aiter():\n            await i\n    yield from_(x)\n",
    "class C(B, metaclass=M):\n    '''doc'''\n    @dec\n    def m(self): x: int = 1; del self.y[0]; global z\n",
    "try:\n    pass\nexcept* (E, F) as e:\n    raise X from e\nelse:\n    ...\nfinally:\n    lambda *a, k=1: {**a, 'k': k}\n",
    "match p:\n    case [1, *rest] if rest:\n        pass\n    case {'a': A(b=c), **kw} | None:\n        pass\n    case str() as s:\n        pass\n",
    "x = f'{a!r:>{w}} {b=}' + b'\\x00' + 'é'\nwhile not (a := b) and c in d is not e:\n    break\nelse:\n    continue\n",
    "with (open(a) as f, g()):\n    print(*x, sep='', **y)\nassert x, (yield)\nimport a.b as c\nfrom . import d\n",
    "t = a[1:2, ::3], {1, 2}, {k: v for k, v in items if k}, (i async for i in s), -(~a) // b @ c\n",
]


class Renamer(ast.NodeTransformer):
    def visit_Name(self, node):
        if node.id in ("a", "b"):
            return ast.copy_location(ast.Name(id=node.id.upper(), ctx=node.ctx), node)
        return node

    def visit_Constant(self, node):
        if isinstance(node.value, int) and not isinstance(node.value, bool):
            return ast.copy_location(ast.Constant(node.value * 10), node)
        return self.generic_visit(node)

    def visit_Pass(self, node):
        return None


class Counter(ast.NodeVisitor):
    def __init__(self):
        self.counts = {}

    def generic_visit(self, node):
        name = type(node).__name__
        self.counts[name] = self.counts.get(name, 0) + 1
        super().generic_visit(node)


def shape(node):
    match node:
        case ast.Module(body=[first, *rest]):
            return f"module {shape(first)} +{len(rest)}"
        case ast.FunctionDef(name=n, args=ast.arguments(args=args)) | ast.AsyncFunctionDef(name=n, args=ast.arguments(args=args)):
            return f"def {n}/{len(args)}"
        case ast.Assign(targets=[ast.Name(id=t)], value=v):
            return f"assign {t} {type(v).__name__}"
        case ast.Try() | ast.TryStar() if hasattr(ast, "TryStar"):
            return "try"
        case _:
            return type(node).__name__


for src in SOURCES:
    tree = ast.parse(src)
    print(shape(tree))
    print(ast.unparse(tree))
    new = ast.fix_missing_locations(Renamer().visit(tree))
    print(ast.unparse(new))
    c = Counter()
    c.visit(tree)
    print(sorted(c.counts.items())[:8])
    print(sum(1 for _ in ast.walk(tree)), ast.get_docstring(tree.body[0], clean=True) if isinstance(tree.body[0], (ast.ClassDef, ast.FunctionDef)) else None)

print(ast.dump(ast.parse("x = [1, (2, 'a')]"), include_attributes=False))
print(ast.literal_eval("{'a': [1, -2.5, 3+4j], 'b': (True, None, b'x'), 'c': {1, 2}}"))
for bad in ["f(x)", "1 + a", "{**x}"]:
    try:
        ast.literal_eval(bad)
    except ValueError as e:
        print("literal_eval", bad, str(e).split(":")[0])
e = ast.parse("(a + b) * c", mode="eval")
seg = ast.get_source_segment("(a + b) * c", e.body.left, padded=True)
print(seg, ast.unparse(ast.increment_lineno(e, 3)), e.body.lineno)
