"""Feature extractors and SVM pipelines: shapes, clear errors, and learning on the demo faces."""

import keras
import numpy as np
import pytest

from helpers import demo, features, models, svm


@pytest.fixture(scope="module")
def faces():
    return demo.make_dataset(per_class=40, seed=3)


def test_feature_shapes(faces):
    x = faces.images[:5]
    assert features.Pixels().transform(x).shape == (5, 48 * 48)
    # HOG: (48 / c - 1)^2 blocks of 2x2 cells of 9 bins, per cell size c
    assert features.Hog((4, 6, 8)).transform(x).shape == (5, 9 * 4 * (11 ** 2 + 7 ** 2 + 5 ** 2))
    lbp = features.Lbp(6).transform(x)
    assert lbp.shape == (5, 36 * 10) and np.allclose(lbp.reshape(5, 36, 10).sum(-1), 1)   # histograms
    assert np.allclose(features.Pixels().transform(x).mean(1), 0, atol=1e-4)


def test_feature_errors_are_clear():
    with pytest.raises(ValueError, match=r"expected greyscale faces.*\(5, 48, 48, 3\)"):
        features.Hog().transform(np.zeros((5, 48, 48, 3), np.uint8))
    with pytest.raises(ValueError, match="cell size 5 does not divide"):
        features.Hog((5,)).transform(np.zeros((2, 48, 48), np.uint8))


def test_pca_svm_learns_demo_faces_and_flip_tta(faces):
    x, y = faces.xy("train")
    pipe = svm.pca_svm(svm.face_features(), n_components=30, C=10).fit(x, y)
    xt, yt = faces.xy("public")
    assert (pipe.predict(xt) == yt).mean() > 0.3                       # chance is 1/7
    scores = svm.decision_flip(pipe, xt)
    assert scores.shape == (len(xt), 7)
    assert set(svm.predict_flip(pipe, xt)) <= set(range(7))


def test_search_returns_a_ranked_table(faces):
    from scipy.stats import loguniform
    x, y = faces.xy("train")
    best, table = svm.search(svm.pca_svm(n_components=20), x, y, {"svm__C": loguniform(0.1, 10)}, n_iter=3, cv=2)
    assert set(best) == {"svm__C"} and len(table) == 3
    assert type(best["svm__C"]) is float                            # prints as 2.25, not np.float64(2.25)
    assert table["mean_test_score"].is_monotonic_decreasing


def test_nystroem_pipeline_fits(faces):
    x, y = faces.xy("train")
    pipe = svm.nystroem_svm(n_components=20, n_kernel_features=100).fit(x, y)
    assert (pipe.predict(x) == y).mean() > 0.3


def test_cnn_features_and_their_errors():
    model = models.compact_cnn(augment=False)
    x = np.zeros((3, 48, 48, 1), np.uint8)
    assert features.penultimate_layer(model) == "dense_relu"
    assert features.cnn_features(model, x).shape == (3, 256)
    assert features.cnn_features(model, x[..., 0], layer="flatten").shape == (3, 3 * 3 * 256)
    assert features.CnnFeatures(model).transform(x).shape == (3, 256)
    with pytest.raises(ValueError, match="layer 'nope' not found in model 'compact_cnn'"):
        features.cnn_features(model, x, layer="nope")
    with pytest.raises(ValueError, match=r"expects images shaped \(48, 48, 1\), got \(64, 64, 1\)"):
        features.cnn_features(model, np.zeros((2, 64, 64, 1)))
    keras.backend.clear_session()


def test_gabor_energy_matches_filtering_each_face_alone(faces):
    import cv2
    x = faces.images[:3]
    gabor = features.Gabor(wavelengths=(4, 8), orientations=4, grid=6, chunk=2)
    out = gabor.transform(x)                                     # chunks of 2 and 1 faces
    assert out.shape == (3, 2 * 4 * 6 * 6)
    for i in range(3):                          # stacking faces must not mix neighbours, nor treat the first
        face = x[i, ..., 0].astype(np.float32) / 255               # face of a chunk differently
        expected = []
        for even, odd in gabor._kernels():
            energy = np.hypot(cv2.filter2D(face, -1, even, borderType=cv2.BORDER_CONSTANT),
                              cv2.filter2D(face, -1, odd, borderType=cv2.BORDER_CONSTANT))
            expected.append(energy.reshape(6, 8, 6, 8).mean(axis=(1, 3)).ravel())
        assert np.allclose(out[i], np.concatenate(expected), atol=1e-5), f"face {i}"


def test_svm_on_features_of_the_wrong_size_fails_clearly():
    rng = np.random.default_rng(0)
    head = svm.head_svm().fit(rng.normal(size=(70, 256)), np.arange(70) % 7)
    with pytest.raises(ValueError, match="384 features.*expecting 256"):
        head.predict(rng.normal(size=(5, 384)))              # features from another layer or model


def test_in_chunks_gives_the_steps_own_features(faces):
    x = faces.images[:7]
    step = svm.face_features().step                          # the FeatureUnion inside
    chunked = features.InChunks(step, chunk=3).transform(x)  # chunks of 3, 3 and 1 faces
    assert chunked.dtype == np.float32
    assert np.array_equal(chunked, step.transform(x))


def test_chunked_scaler_learns_what_standard_scaler_learns():
    from sklearn.preprocessing import StandardScaler
    rng = np.random.default_rng(0)
    x = rng.normal(3, 2, (250, 6)).astype(np.float32)
    scaler = svm.ChunkedScaler(chunk=64).fit(rng.normal(size=(100, 6)))    # a first fit is forgotten
    scaler.fit(x)
    reference = StandardScaler().fit(x)
    assert scaler.n_samples_seen_ == 250
    assert np.allclose(scaler.mean_, reference.mean_) and np.allclose(scaler.scale_, reference.scale_)


def test_lean_pipeline_matches_the_plain_one_and_leaves_callers_arrays_alone(faces):
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    x, y = faces.xy("train")
    plain = Pipeline([("features", features.Pixels()), ("scale", StandardScaler()),
                      ("pca", PCA(20, whiten=True, random_state=0))]).fit(x, y)
    lean = svm.pca_svm(n_components=20)[:-1].fit(x, y)          # in place: Pixels() made the array
    assert np.allclose(lean.transform(x), plain.transform(x), atol=1e-4)
    given = features.Pixels().transform(x)
    kept = given.copy()
    for step in ("passthrough", FunctionTransformer()):         # steps that hand on the caller's array
        for scale in (None, "passthrough"):                     # with the scaler, and without (exercise 3)
            pipe = svm.pca_svm(step, n_components=20)
            if scale:
                pipe.set_params(scale=scale)
            pipe.fit(given, y).predict(given)
            assert np.array_equal(given, kept), (step, scale)


def test_fitting_the_classical_pipeline_holds_one_copy_of_the_features():
    """numpy reports its arrays to tracemalloc: the fit's peak is the features once, plus chunks (with plain
    FeatureUnion + StandardScaler + PCA steps it is about 3.3 times the features)."""
    import tracemalloc
    x, y = demo.make_dataset(per_class=150, seed=3).xy("train")          # 840 faces, 44 MB of features
    size = svm.face_features().transform(x).nbytes
    pipe = svm.pca_svm(svm.face_features(), n_components=30)
    pipe.set_params(features__chunk=16, scale__chunk=16)        # chunks as small beside 840 faces as 2000
    tracemalloc.start()                                         # are beside FER2013's 28,000
    try:
        pipe.fit(x, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * size, f"fit peaked at {peak / size:.1f} x the features' {size / 1e6:.0f} MB"
