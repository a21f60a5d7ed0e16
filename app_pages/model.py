"""About the model: the model card, read live from the checkpoint's JSON and explained for non-experts.

Every figure comes from the card; a section the card lacks says "not measured yet" (nothing is computed
here). Plain words first: model file names, the engine and the AUC figures appear with the sidebar's "Show
technical details" switch."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from fer_core import card as cards
from fer_core.explain.registry import DEFAULT_METHOD, METHODS
from ui.figures import confusion_heatmap, recall_bars, reliability_diagram, robustness_bars
from ui.resources import get_model
from ui.settings import technical

NOT_MEASURED = "Not measured yet for this model."

loaded = get_model()
card = loaded.card
scores = cards.scores(card)
details = technical()

st.title("About the model")
st.markdown(
    "FER Lens reads faces with a small image-recognition network that learned from thousands of labelled "
    f"photos. It looks at each face as a {loaded.spec.source_size}x{loaded.spec.source_size}-pixel grey picture "
    f"and gives a score to each of {len(loaded.spec.labels)} facial expressions: {', '.join(loaded.spec.labels)}."
    + (f" The model is **{loaded.name}** (`{card.get('architecture', loaded.spec.timm_name)}`)." if details else ""))
exported = (card.get("runtime") or {}).get("exported")
if details:
    st.caption(" · ".join(part for part in (f"trained {card['date']}" if card.get("date") else "",
                                            f"exported {exported}" if exported else "",
                                            f"code version {card['git_commit'][:10]}" if card.get("git_commit")
                                            else "", f"file {loaded.path.name}" if loaded.path else "") if part))
    if note := cards.runtime_note(card):
        st.info(note, icon=":material/speed:")
elif card.get("date"):
    st.caption(f"Trained {card['date']}. Turn on *Show technical details* in the sidebar for its name, files and "
               "engine.")

# ---- limits and the law ------------------------------------------------------------------------------------
st.header("Limits, and the law")
# A model trained with photos beside FER2013 (`fer-lens train --extra-train`) says so; its card names the folder.
with_photos = bool((card.get("training") or {}).get("extra_train"))
st.markdown(
    "- **An expression is not a feeling.** The model says which expression a face *looks like*; people smile "
    "when nervous and frown when they concentrate. Never use it to decide what someone feels.\n"
    "- **It learned from FER2013**: about 28,000 small, grey web photos, mostly of adults, re-labelled by "
    "10 crowd workers each (FER+). Posed, exaggerated expressions are over-represented, and *contempt* and "
    "*disgust* are rare, so those two are read least reliably."
    + (" Beside them it learned from a few thousand photos of other people taken with other cameras (press and "
       "web photos, the faces found by FER Lens itself)."
       if with_photos else "") + "\n"
    "- **Possible bias.** How well it works for different ages, skin tones, genders and cultures has not "
    "been measured. Children are under-represented in its training photos.\n"
    "- **Hard cases**: faces turned sideways, partly hidden (hands, masks, hair), very small, blurred or "
    "dark faces; glasses and beards can also mislead it.\n"
    "- **One photo has no context.** A single frame cannot tell a yawn from a scream.")
st.error(
    "**EU AI Act, Article 5(1)(f)** prohibits AI systems that *infer emotions of natural persons in the "
    "areas of workplace and education institutions*, except where the system is meant for **medical or "
    "safety reasons**. The ban applies since 2 February 2025.\n\n"
    "This matters if you review **classroom clips**: using FER Lens (or any such tool) to judge how pupils "
    "or staff feel, how engaged or attentive they are, is not allowed in schools. Describing a visible "
    "expression (\"this face is smiling\") is not by itself emotion recognition, but drawing conclusions "
    "about feelings from it is. Photos of faces are also personal data: ask for consent, especially for "
    "children. This is not legal advice.", icon="⚖️")

# ---- accuracy -----------------------------------------------------------------------------------------------
st.header("How often is it right?")
if scores is None:
    st.info(NOT_MEASURED)
else:
    m = scores.metrics
    if scores.held_out:
        st.write(f"Measured on {m.get('n', 'the'):,} test faces from FER+ that the model never saw while it was "
                 "trained or chosen." if isinstance(m.get("n"), int) else
                 "Measured on FER+ test faces that the model never saw while it was trained or chosen.")
    else:
        st.warning("The test-set figures are not measured yet. These come from the validation faces that "
                   "were used to pick the model, so they are a little optimistic.")
    a, b, c = st.columns(3)
    a.metric("Accuracy", f"{m['accuracy']:.0%}", help="Share of faces whose top expression matches the one "
             "most crowd workers chose.")
    if "macro_f1" in m:
        b.metric("Balanced score (macro-F1)", f"{m['macro_f1']:.2f}", help="From 0 to 1. Averages over the "
                 "expressions, so rare ones count as much as common ones.")
    if "ece" in m:
        c.metric("Confidence error (ECE)", f"{m['ece']:.1%}", help="How far, on average, the model's stated "
                 "confidence is from how often it is actually right. Lower is better.")
    if m.get("confusion"):
        totals = [sum(row) for row in m["confusion"]]
        common = max(range(len(totals)), key=totals.__getitem__)
        classes = m.get("classes") or list(loaded.spec.labels)
        st.caption(f"For comparison: always answering \"{classes[common]}\", the most common expression here, "
                   f"would be right {totals[common] / max(sum(totals), 1):.0%} of the time.")
    left, right = st.columns([2, 3], gap="large")
    with left:
        if m.get("per_class_recall"):
            st.plotly_chart(recall_bars(m["per_class_recall"]), key="recall", config={"displayModeBar": False})
            st.caption("For each expression: of the faces people labelled with it, the share the model named "
                       "correctly. Short bars mark expressions to be especially careful with.")
        else:
            st.info("Per-expression results: " + NOT_MEASURED)
    with right:
        if m.get("confusion"):
            classes = m.get("classes") or list(loaded.spec.labels)
            st.plotly_chart(confusion_heatmap(cards.confusion_shares(m["confusion"]), m["confusion"], classes),
                            key="confusion", config={"displayModeBar": False})
            st.caption("Each row is an expression as people labelled it; the row shows what the model said "
                       "instead. Dark squares on the diagonal are good; dark squares elsewhere are common "
                       "mix-ups (for example fear read as surprise).")
        else:
            st.info("Mix-ups between expressions: " + NOT_MEASURED)

# ---- calibration --------------------------------------------------------------------------------------------
st.header("Is its confidence honest?")
bins = cards.reliability(card, scores)
if bins is None:
    st.info(NOT_MEASURED)
else:
    left, right = st.columns([3, 2])
    left.plotly_chart(reliability_diagram(bins), key="reliability", config={"displayModeBar": False})
    right.markdown(
        "The faces are grouped by how sure the model said it was. Each bar shows how often it was actually "
        "right in that group.\n\n"
        "- Bars **on the dashed line**: when it says 70%, it is right about 70% of the time.\n"
        "- Bars **below** the line: it is over-confident. **Above**: it is more often right than it says.\n\n"
        "This is why FER Lens marks faces as *uncertain* when the top score is low or close to the second.")

# ---- real photos ---------------------------------------------------------------------------------------------
st.header("Does it work on real photos?")
photos = cards.photo_scores(card)
if photos is not None:
    compared = f", against {scores.metrics['accuracy']:.0%} on FER+'s own test faces above" if scores else ""
    st.write(f"On {photos.get('n', 0):,} press and web photos of other people, from other cameras (the muxspace "
             "validation photos; faces found and framed as the app does), the model was right "
             f"**{photos['accuracy']:.0%}** of the time{compared} (balanced score {photos.get('macro_f1', 0):.2f}, "
             f"confidence error {photos.get('ece', 0):.1%}).")
gen = card.get("generalisation")
posed = cards.posed_rows(gen)
if not posed:
    st.info(NOT_MEASURED)
else:
    sure = sum(r["read"] == cards.POSED_SURE for r in posed)
    unsure = sum(r["read"] == cards.POSED_UNSURE for r in posed)
    st.write(f"Posed example photos ({len(posed)} different people, each showing one expression): **{sure} of "
             f"{len(posed)}** read as intended"
             + (f", and {unsure} more as intended **but unsure** (FER Lens marks such a reading *uncertain*, so "
                "it does not count as a success)" if unsure else "") + ".")
    st.dataframe(pd.DataFrame(posed), hide_index=True,
                 column_config={"score": st.column_config.NumberColumn(format="percent"),
                                "read": st.column_config.TextColumn("read")})

# ---- robustness ----------------------------------------------------------------------------------------------
st.header("What throws it off?")
robust = card.get("robustness")
if not robust:
    st.info(NOT_MEASURED)
else:
    left, right = st.columns([3, 2])
    left.plotly_chart(robustness_bars(robust), key="robustness", config={"displayModeBar": False})
    worst = max(robust["perturbations"].values(), key=lambda r: r["accuracy_drop"])
    right.markdown(
        f"The same {robust['n']:,} test faces, each changed the same way. Orange bars lose more than 10 points."
        f"\n\nThe biggest drop: **{worst['title'].lower()}**, from {robust['clean']['accuracy']:.0%} to "
        f"{worst['accuracy']:.0%}. Try these changes on your own photo on the **Robustness** page.")

# ---- heatmaps ------------------------------------------------------------------------------------------------
st.header("Can the heatmaps be trusted?")
rows = cards.faithfulness_rows(cards.heatmap_card(card, loaded.path.parent if loaded.path else None))
if rows is None:
    st.info(NOT_MEASURED + " Each heatmap on the Photo page still carries its own trust note, measured on "
            "the spot.")
else:
    default_title = METHODS[DEFAULT_METHOD].title
    for r in rows:  # say which one the sidebar starts with; shares as whole percentages for a lay reader
        r["method"] += " (the default)" if r["method"] == default_title else ""
        r["faithful share"] = None if r["faithful share"] is None else 100 * r["faithful share"]
    table = pd.DataFrame(rows)
    first = ["method", "faithful share"]
    table = table[first + [c for c in table.columns if c not in first]]
    if not details:  # the engineer's figures (timings, AUCs) with the technical details only
        table = table.drop(columns=[c for c in table.columns if "AUC" in c or c == "ms per face"])
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "ms per face": st.column_config.NumberColumn(format="%.0f", help="Time to draw one heatmap"),
        "deletion AUC (lower is better)": st.column_config.NumberColumn(
            "score left when hiding it (lower is better)", format="%.2f",
            help="Deletion AUC: average score while the highlighted parts are hidden, most important first"),
        "insertion AUC (higher is better)": st.column_config.NumberColumn(
            "score from showing only it (higher is better)", format="%.2f",
            help="Insertion AUC: average score while only the highlighted parts are shown, most important "
                 "first"),
        "faithful share": st.column_config.NumberColumn(
            "maps that passed", format="%.0f%%",
            help="Share of the test faces where hiding the highlighted parts clearly hurt the score more than "
                 "hiding the middle of the face"),
        "faces": st.column_config.NumberColumn("test faces")})
    st.caption("A faithful heatmap points at the parts of the face the score really depends on. The test: "
               "hide the highlighted parts first and the score should fall quickly; show only them and it should "
               "come back quickly. *Maps that passed* is the share of test faces where the map passed clearly."
               + (" The two AUC columns measure those two curves (*deletion*, lower is better; *insertion*, "
                  "higher is better)." if details else " Turn on *Show technical details* for the measurements."))

# ---- speed -------------------------------------------------------------------------------------------------
st.header("How fast is it?")
speed = cards.latency_rows(card.get("latency"))
if speed is None:
    st.info(NOT_MEASURED)
else:
    latency = card.get("latency") or {}
    if details:
        st.dataframe(pd.DataFrame(speed, columns=["task", "time (from the model card)"]), hide_index=True)
    else:  # the gist in words; the table (face finders by name, batch sizes) is a technical detail
        parts = [f"reading one face takes about {latency['classify_face_ms_with_tta']:.0f} ms"
                 if "classify_face_ms_with_tta" in latency else "",
                 f"a whole 1280x720 photo with {latency.get('analyze_faces', 'a few')} faces about "
                 f"{latency['analyze_ms_1280x720']:.0f} ms" if "analyze_ms_1280x720" in latency else ""]
        said = " and ".join(p for p in parts if p)
        st.write(f"Quick enough for a live camera: {said}." if said else "See the technical details for the "
                 "measured times.")
    st.caption(cards.latency_source(latency))

# ---- training ------------------------------------------------------------------------------------------------
st.header("How faces are found and measured")
networks = cards.face_networks()
if networks:
    st.write("Before the model reads a face, two networks from Google's MediaPipe find it and place 468 points "
             "on it: BlazeFace finds faces, the Face Mesh places the points that level the face and measure its "
             "movements (mouth corners, brows, eyes). FER Lens runs them as its own code, converted from the "
             "files of the `mediapipe` 0.10.14 package, under its Apache-2.0 licence; nothing is downloaded.")
    if details:
        st.dataframe(networks, hide_index=True, width="stretch")
else:
    st.info("The MediaPipe face networks are not installed, so faces are found with MTCNN and no face mesh "
            "is measured.")

st.header("How it was trained")
data = card.get("data")
if data:
    st.markdown("\n".join(f"- **{k.replace('_', ' ')}**: {v}" for k, v in data.items()))
else:
    st.info("Training data: not recorded yet for this model.")
command = card.get("training_command") if details else None
if command:
    st.write("To repeat the training:")
    st.code(command, language="bash")
if details and card.get("export_command"):
    st.write("Then, to make this ONNX copy from it:")
    st.code(card["export_command"], language="bash")
if details and card.get("training"):
    with st.expander("All training settings"):
        st.json(card["training"], expanded=True)
if details:
    with st.expander("The full model card (JSON)"):
        st.json({k: v for k, v in card.items() if k != "history"}, expanded=False)
