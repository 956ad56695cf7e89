# probe-modules: unittest.case unittest.result unittest.suite
# A small unittest suite run in-process: passing and failing assertions
# (assertEqual's diffs of lists, dicts and strings), subTest, setUp and
# tearDown raising, expectedFailure (failing and unexpectedly passing), skip
# (decorator, skipIf, skipTest), class and module fixtures, cleanups.
# The runner writes to a StringIO; its timing line is dropped and tracebacks
# are reduced to their last line (file paths and line numbers differ).
import io
import unittest


class Arith(unittest.TestCase):
    def setUp(self):
        self.data = [1, 2, 3]
        self.addCleanup(self.data.clear)

    def test_pass(self):
        self.assertEqual(sum(self.data), 6)
        self.assertTrue(self.data)
        self.assertIn(2, self.data)
        self.assertAlmostEqual(0.1 + 0.2, 0.3)
        with self.assertRaises(ZeroDivisionError) as cm:
            1 / 0
        self.assertIsInstance(cm.exception, ArithmeticError)
        with self.assertRaisesRegex(ValueError, "inv.lid"):
            int("invalid")

    def test_fail_list(self):
        self.assertEqual(self.data, [1, 2, 4])

    def test_fail_dict(self):
        self.assertDictEqual({"a": 1, "b": 2}, {"a": 1, "b": 3})

    def test_fail_str(self):
        self.assertMultiLineEqual("one\ntwo\nthree\n", "one\n2\nthree\n")

    def test_subtests(self):
        for i in range(4):
            with self.subTest(i=i):
                self.assertEqual(i % 2, 0)

    def test_error(self):
        raise KeyError("boom")

    @unittest.expectedFailure
    def test_expected(self):
        self.assertEqual(1, 2)

    @unittest.expectedFailure
    def test_unexpected_success(self):
        pass

    @unittest.skip("not today")
    def test_skipped(self):
        pass

    @unittest.skipIf(True, "conditional")
    def test_skipif(self):
        pass

    def test_skiptest(self):
        self.skipTest("from inside")

    def test_seq(self):
        self.assertSequenceEqual((1, 2, 3), (1, 2, 3))
        self.assertCountEqual([3, 1, 2, 1], [1, 1, 2, 3])
        self.assertNotEqual("a", "b")
        self.assertGreater(3, 2)
        self.assertLessEqual(2, 2)
        self.assertIsNone(None)
        self.assertRegex("hello world", r"w.rld")


class BrokenSetUp(unittest.TestCase):
    def setUp(self):
        raise RuntimeError("setUp broke")

    def test_never(self):
        pass


class BrokenTearDown(unittest.TestCase):
    def tearDown(self):
        raise ValueError("tearDown broke")

    def test_runs(self):
        self.assertEqual(len("abc"), 3)


class ClassFixture(unittest.TestCase):
    log = []

    @classmethod
    def setUpClass(cls):
        cls.log.append("setUpClass")

    @classmethod
    def tearDownClass(cls):
        cls.log.append("tearDownClass")
        raise OSError("class teardown")

    def test_a(self):
        self.log.append("a")

    def test_b(self):
        self.assertEqual(self.log[-1], "a")


def last_line(text):
    return text.strip().splitlines()[-1]


loader = unittest.TestLoader()
suite = unittest.TestSuite()
for case in (Arith, BrokenSetUp, BrokenTearDown, ClassFixture):
    suite.addTests(loader.loadTestsFromTestCase(case))
suite.addTest(unittest.FunctionTestCase(lambda: None, description="plain function"))
print(suite.countTestCases())

stream = io.StringIO()
runner = unittest.TextTestRunner(stream=stream, verbosity=2)
result = runner.run(suite)
print(result.testsRun, len(result.failures), len(result.errors), len(result.skipped),
      len(result.expectedFailures), len(result.unexpectedSuccesses), result.wasSuccessful())
for test, tb in result.failures + result.errors:
    print(str(test).split(" ")[0], "|", last_line(tb))
print(sorted(reason for _, reason in result.skipped))
print(ClassFixture.log)
out = [l for l in stream.getvalue().splitlines() if l.startswith(("test_", "FAIL", "ERROR", "OK", "FAILED"))]
print(len(out), out[:8])

# A second, plain TestResult without a runner, and a failfast run.
plain = unittest.TestResult()
plain.failfast = True
unittest.TestSuite([Arith("test_fail_list"), Arith("test_pass")]).run(plain)
print(plain.testsRun, plain.shouldStop, len(plain.failures))
