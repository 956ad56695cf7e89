# probe-modules: wave sched _py_abc
# probe-volatile: _py_abc.py:cls._abc_cache@rhs _py_abc.py:cls._abc_negative_cache@rhs _py_abc.py:cls._abc_registry@rhs
# A WAV file written and read back in memory (16-bit stereo, a sine);
# events run by a scheduler on a virtual clock; ABCs from the pure-Python
# implementation with registration and subclass checks.
import io
import math
import sched
import struct
import wave

import _py_abc
import abc

buf = io.BytesIO()
w = wave.open(buf, "wb")
w.setnchannels(2)
w.setsampwidth(2)
w.setframerate(8000)
frames = b"".join(struct.pack("<hh", int(12000 * math.sin(2 * math.pi * 440 * k / 8000)),
                              int(6000 * math.cos(2 * math.pi * 220 * k / 8000))) for k in range(400))
w.writeframes(frames[:800])
w.writeframesraw(frames[800:])
w.close()
buf.seek(0)
r = wave.open(buf, "rb")
print(r.getparams())
got = r.readframes(123)
r.setpos(200)
print(len(got), r.tell(), struct.unpack("<4h", r.readframes(2)))
r.rewind()
print(sum(struct.unpack("<800h", r.readframes(400))))
r.close()

now = [0.0]


def clock():
    return now[0]


def sleep(d):
    now[0] += d


log = []
s = sched.scheduler(clock, sleep)
for k in range(6):
    s.enter(0.5 * (k % 3), k % 2, log.append, argument=(k,))
ev = s.enterabs(0.25, 0, log.append, kwargs={"object": "abs"})
s.enter(0.1, 0, s.cancel, argument=(ev,))
print(len(s.queue), s.empty())
s.run()
print(log, now[0], s.empty())


class Shape(metaclass=_py_abc.ABCMeta):
    @abc.abstractmethod
    def area(self):
        ...


class Square(Shape):
    def __init__(self, a):
        self.a = a

    def area(self):
        return self.a * self.a


class Blob:
    def area(self):
        return 0


Shape.register(Blob)
print(isinstance(Square(3), Shape), isinstance(Blob(), Shape), issubclass(int, Shape))
print(issubclass(Blob, Shape), Square(4).area(), isinstance(3.5, Shape))


class Hooked(metaclass=_py_abc.ABCMeta):
    @classmethod
    def __subclasshook__(cls, C):
        return True if any("area" in B.__dict__ for B in C.__mro__) else NotImplemented


print(issubclass(Square, Hooked), issubclass(str, Hooked), isinstance(Blob(), Hooked))
print(sorted(c.__name__ for c in Shape._abc_registry))
