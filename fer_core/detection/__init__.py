"""Finding faces and measuring them: detectors behind one interface (`base`, `registry`, `blazeface` (the
default), `mtcnn`, `haar`), MediaPipe's converted graphs and their engine (`converted_net`), the 468-point
Face Mesh (`face_mesh`), facial movements measured on it (`movements`), alignment onto FER2013's framing
(`align`) and head pose (`head_pose`)."""
