# probe agent: the compiler's symbol tables, as the resolver reads them.
#
# The same answers as the stdlib `symtable` module, read straight from
# `_symtable` (the compiler's own tables): `symtable` imports enum and
# weakref, 1-2.5 ms of every run's start-up, for the six questions asked
# here. tests/python/test_symbols.py checks every answer against
# `symtable` for every symbol of the interpreter's own standard library.

import _symtable

_SCOPE_OFF, _SCOPE_MASK = _symtable.SCOPE_OFF, _symtable.SCOPE_MASK
_LOCAL, _CELL, _FREE = _symtable.LOCAL, _symtable.CELL, _symtable.FREE
_GLOBAL_IMPLICIT, _GLOBAL_EXPLICIT = _symtable.GLOBAL_IMPLICIT, _symtable.GLOBAL_EXPLICIT
_DEF_BOUND, _DEF_LOCAL, _DEF_IMPORT = _symtable.DEF_BOUND, _symtable.DEF_LOCAL, _symtable.DEF_IMPORT
_DEF_FREE_CLASS = _symtable.DEF_FREE_CLASS


def symtable(source, filename, mode):
    """The module's table (symtable.symtable)."""
    return Table(_symtable.symtable(source, filename, mode))


class Table:
    """One scope's table (symtable.SymbolTable, the part used)."""
    __slots__ = ("_t",)

    def __init__(self, t):
        self._t = t

    def get_type(self):
        """"module" for the module's table; the other kinds are not told apart."""
        return "module" if self._t.type == _symtable.TYPE_MODULE else "other"

    def is_def(self):
        """A function's (lambdas and comprehensions included) or a class's
        table: a scope that is a code object's own. Not the 3.12+
        annotation scopes (type parameters, a type variable's bound, a type
        alias's value, 3.14's `__annotate__`), which share a def's line and
        name."""
        return self._t.type in (_symtable.TYPE_FUNCTION, _symtable.TYPE_CLASS)

    def get_lineno(self):
        return self._t.lineno

    def get_name(self):
        return self._t.name

    def get_children(self):
        return [Table(c) for c in self._t.children]

    def lookup(self, name):
        """The symbol `name` (KeyError when the scope has none)."""
        return Symbol(self._t.symbols[name], self._t.name == "top")


class Symbol:
    """One name in a scope (symtable.Symbol, the part used)."""
    __slots__ = ("_flags", "_scope", "_module")

    def __init__(self, flags, module_scope):
        self._flags = flags
        self._scope = (flags >> _SCOPE_OFF) & _SCOPE_MASK
        self._module = module_scope

    def is_global(self):
        return bool(self._scope in (_GLOBAL_IMPLICIT, _GLOBAL_EXPLICIT)
                    or (self._module and self._flags & _DEF_BOUND))

    def is_declared_global(self):
        return self._scope == _GLOBAL_EXPLICIT

    def is_local(self):
        return bool(self._scope in (_LOCAL, _CELL) or (self._module and self._flags & _DEF_BOUND))

    def is_free(self):
        return self._scope == _FREE

    def is_assigned(self):
        return bool(self._flags & _DEF_LOCAL)

    def is_free_class(self):
        """In a class's table: a scope nested in the class (a method, a
        comprehension, a lambda) reads the name as a free variable of a
        function around the class (symtable's DEF_FREE_CLASS)."""
        return bool(self._flags & _DEF_FREE_CLASS)

    def is_imported(self):
        return bool(self._flags & _DEF_IMPORT)
