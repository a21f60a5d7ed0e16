"""Finding faces and framing them: detectors behind one interface (`base`, `registry`, `haar`, `mtcnn`),
alignment onto FER2013's framing (`align`) and a rough head pose (`head_pose`)."""
