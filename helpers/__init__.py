"""Shared code for the fer-workbook notebooks.

The notebooks tell the story; this package does the work. Modules are named for what they do:

- ``helpers.data``     find and load FER datasets (CSV, Kaggle folders, any class-per-folder set, demo faces)
- ``helpers.demo``     the procedurally drawn demo dataset used when no real data is found
- ``helpers.audit``    duplicates, train/test leakage and near-blank images
- ``helpers.balance``  class weights, over-/under-sampling, augmentation to balance
- ``helpers.models``   Keras 3 models, each built by one function
- ``helpers.train``    device settings, seeds, callbacks and the training loop
- ``helpers.features`` pixels, HOG, LBP, Gabor and CNN activations as scikit-learn transformers
- ``helpers.svm``      PCA+SVM pipelines, the cross-validated search, Nystroem, flip TTA
- ``helpers.evaluate`` metrics, reports, confidence intervals, McNemar, calibration, cross-dataset scores
- ``helpers.saliency`` gradient, stretched, SmoothGrad and Grad-CAM maps, and their sanity check
- ``helpers.faces``    faces in photos: Haar-cascade detection, crops, classification, drawing, a widget
- ``helpers.predict``  ``python -m helpers.predict PHOTO``: the photo pipeline from a terminal
- ``helpers.plots``    figures, saved into the run folder as well as shown
- ``helpers.record``   the metrics JSON each notebook writes for the runner
- ``helpers.run``      ``python -m helpers.run``: execute every notebook with papermill
"""

__version__ = "0.1.0"


class FERDataError(ValueError):
    """A problem with the user's data or paths; the message names the file or row and what to do."""
