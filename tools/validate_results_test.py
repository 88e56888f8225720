import json
import os
import tempfile
import unittest

from tools import validate_results


class ValidateResultsTest(unittest.TestCase):
    def write(self, text):
        fd, path = tempfile.mkstemp(suffix=".json", dir=os.environ.get("TEST_TMPDIR"))
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

    def test_rejects_bare_nan(self):
        path = self.write('{"context": {}, "benchmarks": [{"name": "x", "c": NaN}]}')
        self.assertEqual(validate_results.main([path]), 2)

    def test_rejects_truncated(self):
        path = self.write('{"context": {"a": 1}, "benchmarks": [')
        self.assertEqual(validate_results.main([path]), 2)

    def test_missing_context_key_and_prefix(self):
        doc = {"context": {"tsc_hz": "1"}, "benchmarks": [{"name": "timers/rdtsc", "real_time": 1}]}
        problems = validate_results.validate(doc, ["tsc_hz", "clocksource"], 1, ["spawn/"])
        self.assertEqual(len(problems), 2)
        self.assertIn("clocksource", problems[0])

    def test_valid(self):
        doc = {"context": {"tsc_hz": "1"}, "benchmarks": [{"name": "timers/rdtsc", "real_time": 1}]}
        path = self.write(json.dumps(doc))
        self.assertEqual(validate_results.main([path, "--require-prefix", "timers/"]), 0)

    def test_readme_keys(self):
        path = self.write("# Other\n| `not_me` | x |\n## The JSON context\n| `tsc_hz` | Hz |\n")
        self.assertEqual(validate_results.documented_context_keys(path), ["tsc_hz"])


if __name__ == "__main__":
    unittest.main()
