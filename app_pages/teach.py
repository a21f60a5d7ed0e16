"""Can you read this face? A class guesses a face's facial expression, then sees what people said and what the
model said, with its heatmap, and keeps score. Faces come from a FER+ folder on this computer (with the ten
annotators' votes) or from the teacher's own photos (the class's clicks are the votes)."""
from __future__ import annotations

import streamlit as st

from fer_core import teaching
from ui import photo_view
from ui import teach_view as view
from ui.resources import get_model, get_recognizer
from ui.settings import current

settings = current()
st.title("Can you read this face?")
st.write("Look at the face and decide, together or each on your own, which facial expression it shows. Click "
         "your answer. Then see what other people said about the same face, and what the model says, with the "
         "parts of the face its score came from.")
st.info("**An expression is not a feeling.** A face can look sad while its owner is fine, and people smile when "
        "they are nervous. This game is about reading faces, which even people do differently: that is why FER+ "
        "asked ten people about every face.", icon=":material/school:")

folder = view.ferplus_setting()
own = folder is None
if not own and st.radio("Faces from", ["ferplus", "own"], horizontal=True, key="teach-source",
                        format_func={"ferplus": "FER+ test faces (with ten people's votes)",
                                     "own": "My own photos (the class's clicks are the votes)"}.get) == "own":
    own = True

model = get_model()
recognizer = get_recognizer(settings.detector.name)
method = photo_view.usable_settings(settings, model).method.name

if own:
    uploads = photo_view.photo_uploader("Photos with faces: one photo with several faces, or several photos",
                                        "teach-uploads", many=True)
    if not uploads:
        st.info(("No FER+ folder was found on this computer, so the faces come from your own photos. " if folder is None
                 else "") + "Upload one photo with several faces, or several photos, to begin. Faces stay in "
                "this browser session's memory only.", icon=":material/upload:")
        st.stop()
    with st.spinner("Finding faces…"):
        results = [photo_view.analysis(recognizer, u.name, u.getvalue(), photo_view.PHOTO_MAX_MB * 2**20)
                   for u in uploads]
    photo_view.show_problems(results)
    faces = view.own_faces(results)
    if not faces:
        st.stop()
    game = view.game("own:" + ",".join(r.digest[:12] for r in results))
else:
    voted = view.voted_faces(folder)
    game = view.game(f"ferplus:{folder}")
    deck = view.ferplus_deck(game, voted)
    faces = None
    split, n = teaching.disagreement_share(voted)
    st.caption(f"On {split:,} of these {n:,} test faces, the ten people did not all give the same answer.")

view.scoreboard(game, own)
total = len(faces) if own else len(deck)
if game.position >= total:
    st.success(f"That was the last of the {total} faces. {game.score.words()}", icon=":material/flag:")
    st.button("Start a new round", key="teach-restart", on_click=view.new_round, args=(game,), icon=":material/replay:")
    st.stop()

face = faces[game.position] if own else view.ferplus_face(folder, deck[game.position])
probs = view.model_scores(recognizer, face)
game.model_top[face.id] = max(probs, key=probs.get)

left, right = st.columns([1, 1.4], gap="large")
with left:
    view.show_face(face, game.position, total)
    if game.revealed:
        st.button("Next face", key="teach-next", type="primary", on_click=view.next_face, args=(game,),
                  icon=":material/arrow_forward:")
with right:
    if game.revealed:
        view.reveal(game, face, probs, model, method)
    else:
        st.markdown("#### Which facial expression does this face show?")
        view.guess_buttons(game, face)
        if own:
            n_votes = sum(game.clicks.get(face.id, {}).values())
            st.caption(f"{n_votes} vote{'s' if n_votes != 1 else ''} so far. Everyone can click; the votes stay "
                       "hidden until you reveal them.")
            st.button("Reveal the votes and the model", key="teach-reveal", type="primary", disabled=not n_votes,
                      on_click=view.reveal_votes, args=(game, face), icon=":material/visibility:")
        else:
            st.caption("Click one answer. Then you see what the ten people said, and what the model says.")
with st.expander("For the teacher: what this game shows", icon=":material/help:"):
    st.markdown(
        "- **People disagree.** FER+ asked ten people to label each of FER2013's faces. On many faces they did "
        "not all agree, so there is often no single right answer: the \"people's majority\" is what most of them "
        "said.\n"
        "- **The model learned from those votes.** When it matches the majority, it has learned what most people "
        "would say, not what the person felt.\n"
        "- **An expression is not a feeling.** A smile can be polite, a frown can mean concentration, a neutral "
        "face can hide anything. Reading an expression never tells you what someone feels.\n"
        "- **The heatmap** shows which parts of the face drove the model's score; the trust note says whether "
        "hiding those parts really changes the score.\n"
        "- **Nothing is kept.** FER+ faces are read from this computer's folder while the page runs; your own "
        "photos stay in this browser session's memory only.")
