"""Shared code for the fer-workbook notebooks.

The notebooks tell the story; this package does the work. Modules are named for what they do:

- ``helpers.dataset``  the Dataset container, class names, image conversion, stratified splits
- ``helpers.data``     find and load FER datasets (CSV, Kaggle folders, any class-per-folder set, demo faces)
- ``helpers.demo``     the procedurally drawn demo dataset used when no real data is found
- ``helpers.pack``     a dataset in one small file, to carry it to a GPU machine (``python -m helpers.pack``)
- ``helpers.audit``    duplicates, train/test leakage and near-blank images
- ``helpers.balance``  class weights, over-/under-sampling, augmentation to balance
- ``helpers.backend``  Keras imported quietly; device and precision settings and input gradients per backend
- ``helpers.models``   Keras 3 models, each built by one function
- ``helpers.train``    seeds, callbacks, schedules and the training loop (resumable)
- ``helpers.batchnorm`` batch-norm statistics recomputed on clean faces after training
- ``helpers.finetune`` a trained model fine-tuned for a few epochs on faces as the test sees them
- ``helpers.recipes``  the full training runs and ``python -m helpers.train``
- ``helpers.ensemble`` networks averaged and chosen on PublicTest; shared errors; distillation targets
- ``helpers.distribute`` data-parallel training on several devices or machines
- ``helpers.stream``   datasets bigger than memory, read from their folder batch by batch
- ``helpers.shipped``  the shipped model: where it is, its metadata, loading it, replacing it if better
- ``helpers.features`` pixels, HOG, LBP, Gabor and CNN activations as scikit-learn transformers
- ``helpers.svm``      PCA+SVM pipelines, the cross-validated search, Nystroem, flip TTA
- ``helpers.evaluate`` metrics, reports, confidence intervals, McNemar, calibration, cross-dataset scores
- ``helpers.saliency`` gradient, stretched, SmoothGrad and Grad-CAM maps, and their sanity check
- ``helpers.faces``    faces in photos: Haar-cascade detection, crops, classification, drawing
- ``helpers.gallery``  sample photos and the JupyterLab widget of notebook 06
- ``helpers.predict``  ``python -m helpers.predict PHOTO``: the photo pipeline from a terminal
- ``helpers.app``      ``python -m helpers.app``: the web app (Gradio) for photos and the live webcam
- ``helpers.browser``  the web app in headless Chromium with a fake webcam (its tests and benchmark)
- ``helpers.plots``    figures, saved into the run folder as well as shown
- ``helpers.notebook`` what the modelling notebooks do first: run size, their data, the CNN they study
- ``helpers.record``   the metrics JSON and figures each notebook writes for the runner
- ``helpers.files``    outputs written atomically
- ``helpers.machine``  this computer's processor, cores and vector units, read without Keras
- ``helpers.run``      ``python -m helpers.run``: execute every notebook with papermill
- ``helpers.publish``  ``python -m helpers.publish RUN``: executed notebooks as Markdown under docs/
- ``helpers.student``  ``python -m helpers.student``: the notebooks without their solutions
"""

__version__ = "0.1.0"


class FERDataError(ValueError):
    """A problem with the user's data or paths; the message names the file or row and what to do."""
