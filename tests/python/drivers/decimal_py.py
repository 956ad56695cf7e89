# probe-modules: _pydecimal
# The pure-Python decimal implementation.
import _pydecimal as D

ctx = D.Context(prec=12, rounding=D.ROUND_HALF_EVEN)
a = D.Decimal("1.1")
b = D.Decimal("2.25")
print(ctx.add(a, b), ctx.multiply(a, b), ctx.divide(D.Decimal(1), D.Decimal(7)), ctx.sqrt(D.Decimal(2)))
print(D.Decimal("123.456").quantize(D.Decimal("0.01"), rounding=D.ROUND_DOWN), D.Decimal(-0.5).normalize())
print(D.Decimal("1e-3").as_tuple(), D.Decimal("NaN").is_nan(), D.Decimal("-Infinity") < 0, D.Decimal(3).ln(ctx))
print(ctx.power(D.Decimal(2), D.Decimal("0.5")), D.Decimal("7.5") % 2, D.Decimal("10") // 3, round(D.Decimal("2.675"), 2))
