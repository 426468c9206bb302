"""The Model page's pictures (Altair). Presentation only: every figure comes from `core`. Class names
are axis labels (never Markdown); their bidirectional controls are taken out.

Colours come from Streamlit's Altair theme (st.altair_chart's default) so the charts read in light
and dark themes; only the confusion matrix picks a sequential scheme, with cell counts written in
a colour that contrasts with the cell.
"""
import altair as alt
import pandas as pd

from core.plain_text import neutral, neutral_rows  # class names reach the axes: no bidi controls

PERCENT = alt.Scale(domain=[0, 1])


def time_axis(times: pd.Series) -> alt.Axis:
    """Clock ticks that read at the span shown: seconds within ten minutes, the date beyond a day
    (Vega's default gave labels such as '.500' for a session of a few minutes)."""
    span = (times.max() - times.min()).total_seconds() if len(times) else 0
    fmt = "%H:%M:%S" if span < 600 else "%H:%M" if span < 86_400 else "%b %d %H:%M"
    return alt.Axis(format=fmt, labelOverlap=True, tickCount=6)


def learning_curve(rows: list[dict], against: str = "labels") -> alt.Chart:
    """Eval accuracy and macro-F1 with their 95 % intervals as bands, against labels or time."""
    data = pd.DataFrame(rows)
    if against == "time":
        data["when"] = pd.to_datetime(data["created"], unit="s", utc=True).dt.tz_convert(None)
        x = alt.X("when:T", title="time", axis=time_axis(data["when"]))
    else:
        x = alt.X("labels:Q", title="labels", axis=alt.Axis(format="d", tickMinStep=1))
    base = alt.Chart(data).encode(x=x, color=alt.Color("metric:N", title=None, legend=alt.Legend(orient="top")))
    band = base.mark_area(opacity=0.2).encode(y=alt.Y("low:Q", title="on the eval sample", scale=PERCENT), y2="high:Q")
    line = base.mark_line(point=True).encode(
        y="value:Q", tooltip=["version", "labels", "metric", alt.Tooltip("value:Q", format=".3f"),
                              alt.Tooltip("low:Q", format=".3f"), alt.Tooltip("high:Q", format=".3f"),
                              "eval texts"])
    return (band + line).properties(height=280)


def per_label_curves(rows: list[dict]) -> alt.Chart:
    """Eval F1 of a few labels against labels given, one line per label (multi-label projects)."""
    data = pd.DataFrame(neutral_rows(rows))
    base = alt.Chart(data).encode(x=alt.X("labels:Q", title="labels", axis=alt.Axis(format="d", tickMinStep=1)),
                                  color=alt.Color("label:N", title=None, legend=alt.Legend(orient="top")))
    line = base.mark_line(point=True).encode(
        y=alt.Y("F1:Q", title="F1 on the eval sample", scale=PERCENT),
        tooltip=["version", "labels", "label", alt.Tooltip("F1:Q", format=".2f"), alt.Tooltip("low:Q", format=".2f"),
                 alt.Tooltip("high:Q", format=".2f"), "eval texts"])
    return line.properties(height=260)


def per_class_bars(rows: list[dict]) -> alt.Chart:
    """Precision, recall and F1 of each class, grouped by class."""
    data = pd.DataFrame(neutral_rows(rows)).melt(id_vars=["class", "support"], value_vars=["precision", "recall", "f1"],
                                   var_name="figure", value_name="value")
    data["figure"] = data["figure"].replace({"f1": "F1"})
    order = ["precision", "recall", "F1"]
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("class:N", title=None, sort=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("figure:N", sort=order),
        y=alt.Y("value:Q", title="on the eval sample", scale=PERCENT),
        color=alt.Color("figure:N", title=None, sort=order, legend=alt.Legend(orient="top")),
        tooltip=["class", "figure", alt.Tooltip("value:Q", format=".2f"), alt.Tooltip("support:Q", title="eval texts")],
    ).properties(height=260)


def confusion_heatmap(rows: list[dict], names: list[str]) -> alt.Chart:
    """Eval texts by true class (rows) and predicted class (columns); shade = share of the true class."""
    rows, names = neutral_rows(rows), [neutral(n) for n in names]
    data = pd.DataFrame(rows)
    base = alt.Chart(data).encode(
        x=alt.X("predicted:N", sort=names, title="predicted", axis=alt.Axis(labelAngle=-30)),
        y=alt.Y("true:N", sort=names, title="true label"))
    cells = base.mark_rect(stroke="gray", strokeWidth=0.3).encode(
        color=alt.Color("share:Q", scale=alt.Scale(scheme="tealblues", domain=[0, 1]), title="share of row",
                        legend=alt.Legend(format="%")),
        tooltip=["true", "predicted", "count", alt.Tooltip("share:Q", format=".0%")])
    counts = base.mark_text(fontSize=13).encode(
        text="count:Q", color=alt.condition(alt.datum.share > 0.5, alt.value("white"), alt.value("black")))
    return (cells + counts).properties(height=max(180, 44 * len(names)))


def label_timeline(rows: list[dict]) -> alt.Chart:
    """Labels per class as they arrived (stacked)."""
    data = pd.DataFrame(neutral_rows(rows))
    data["when"] = pd.to_datetime(data["time"], unit="s", utc=True).dt.tz_convert(None)
    return alt.Chart(data).mark_area(opacity=0.85).encode(
        x=alt.X("when:T", title="time", axis=time_axis(data["when"])),
        y=alt.Y("labels:Q", stack="zero", title="labels given"),
        color=alt.Color("class:N", title=None, legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("when:T", format="%H:%M:%S"), "class", "labels"],
    ).properties(height=220)


def compare_f1(rows: list[dict]) -> alt.Chart:
    """Per-class F1 of two versions side by side."""
    data = pd.DataFrame(neutral_rows(rows))
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("class:N", title=None, sort=None, axis=alt.Axis(labelAngle=0)), xOffset="version:N",
        y=alt.Y("f1:Q", title="F1 on the same eval texts", scale=PERCENT),
        color=alt.Color("version:N", title=None, legend=alt.Legend(orient="top")),
        tooltip=["version", "class", alt.Tooltip("f1:Q", format=".2f"), alt.Tooltip("precision:Q", format=".2f"),
                 alt.Tooltip("recall:Q", format=".2f"), "support"],
    ).properties(height=260)


def cross_validated(rows: list[dict]) -> alt.Chart:
    return alt.Chart(pd.DataFrame(rows)).mark_line(point=True).encode(
        x="labels:Q", y=alt.Y("value:Q", scale=PERCENT, title="cross-validated"),
        color=alt.Color("metric:N", title=None)).properties(height=220)


CLASS_ROW_PX = 22  # one bar of `class_counts` and its gap


def class_counts(per_class: dict[str, int]) -> alt.Chart:
    """Labels per class as horizontal bars with whole-number ticks (Streamlit's own bar chart put
    "0.000000" on the axis of an empty project, issue 20 item 6).

    Sized by its plot area, one CLASS_ROW_PX row per class: Streamlit's default autosize ("fit")
    takes `height` as the whole chart, axes included, and the axis under the bars took all of a
    small one, so the bars had no height and the class names were drawn on top of one another
    (issue 20, a new user's trial). "fit-x" fits only the width to the column."""
    data = pd.DataFrame({"class": [neutral(c) for c in per_class], "labels": list(per_class.values())})
    return alt.Chart(data).mark_bar().encode(
        y=alt.Y("class:N", title=None, sort=None, axis=alt.Axis(labelLimit=120)),
        x=alt.X("labels:Q", title="labels", axis=alt.Axis(format="d", tickMinStep=1)),
        tooltip=["class", "labels"],
    ).properties(height=CLASS_ROW_PX * len(per_class), autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))
