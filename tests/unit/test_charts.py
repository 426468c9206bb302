"""The Model page's charts: time axes that read at the span shown."""
from ui import charts


def _timeline(span_s: float):
    return [{"time": 1_790_000_000 + span_s * i / 4, "class": "a", "labels": i} for i in range(5)]


def test_time_axes_show_seconds_hours_or_dates_by_span():
    formats = {span: charts.label_timeline(_timeline(span)).to_dict()["encoding"]["x"]["axis"]["format"]
               for span in (300, 7_200, 3 * 86_400)}
    assert formats == {300: "%H:%M:%S", 7_200: "%H:%M", 3 * 86_400: "%b %d %H:%M"}
    curve = [{"created": 1_790_000_000 + 60 * i, "labels": 10 * i, "metric": "accuracy", "value": 0.5, "low": 0.4,
              "high": 0.6, "version": i, "eval texts": 10} for i in range(3)]
    assert charts.learning_curve(curve, "time").to_dict()["layer"][0]["encoding"]["x"]["axis"]["format"] == "%H:%M:%S"
