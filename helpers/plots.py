"""Every figure a notebook shows, drawn with matplotlib and seaborn. Each function returns the figure;
the notebook shows it and saves it with ``Run.save_fig``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from helpers.data import SPLITS, Dataset

sns.set_theme(context="notebook", style="whitegrid")
SPLIT_COLOURS = dict(zip(SPLITS, sns.color_palette("deep", 3)))


def class_distribution(ds: Dataset, title: str = "Images per class and split"):
    """Grouped bar chart: images per class, one bar per split, with counts on the bars."""
    counts = ds.counts().drop(columns="total").reset_index().melt(id_vars="class", value_name="images")
    fig, ax = plt.subplots(figsize=(9, 3.8))
    sns.barplot(counts, x="class", y="images", hue="split", palette=SPLIT_COLOURS, ax=ax)
    for bars in ax.containers:
        ax.bar_label(bars, fontsize=7, padding=1)
    ax.set(title=title, xlabel="", ylabel="images")
    fig.tight_layout()
    return fig


def class_histogram(counts_by_strategy: dict, classes, title: str = "Training images per class"):
    """Bars per class for several strategies (``{'original': counts, 'over-sampled': counts, ...}``)."""
    frame = pd.DataFrame(counts_by_strategy, index=list(classes)).rename_axis("class").reset_index()
    frame = frame.melt(id_vars="class", var_name="strategy", value_name="images")
    fig, ax = plt.subplots(figsize=(10, 3.6))
    sns.barplot(frame, x="class", y="images", hue="strategy", ax=ax)
    ax.set(title=title, xlabel="")
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1), frameon=False)   # beside the bars, not on them
    fig.tight_layout()
    return fig


def image_grid(images, titles=None, ncols: int = 8, size: float = 1.2, suptitle: str | None = None,
               cmap="gray"):
    """Show images (uint8 (N, H, W, C)) in a grid, with optional titles."""
    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.15), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, img in enumerate(images):
        ax = axes.ravel()[i]
        img = np.asarray(img)
        ax.imshow(img[..., 0] if img.ndim == 3 and img.shape[-1] == 1 else img, cmap=cmap, vmin=0, vmax=255)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=7)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def samples_per_class(ds: Dataset, per_class: int = 8, split: str = "train", seed: int = 0):
    """A grid with one row per class: ``per_class`` random faces of that class."""
    rng = np.random.default_rng(seed)
    part = ds.split(split)
    images, titles = [], []
    for c, name in enumerate(part.classes):
        idx = rng.permutation(np.flatnonzero(part.labels == c))[:per_class]
        for j in range(per_class):
            images.append(part.images[idx[j]] if j < len(idx) else np.zeros_like(part.images[0]))
            titles.append(name if j == 0 else "")
    return image_grid(images, titles, ncols=per_class, suptitle=f"Random {split} faces per class")


def mean_faces(ds: Dataset, split: str = "train"):
    """The average face of each class: what a pixel-based classifier 'sees' on average."""
    part = ds.split(split)
    means = [part.images[part.labels == c].mean(axis=0) for c in range(len(part.classes))]
    return image_grid(np.stack(means), part.classes, ncols=len(means), size=1.6,
                      suptitle=f"Mean face per class ({split})")


def brightness_by_class(ds: Dataset):
    """Distribution of each image's mean grey level and contrast (standard deviation), per class."""
    flat = ds.images.reshape(len(ds), -1).astype(np.float32)
    frame = pd.DataFrame({"class": ds.label_names(), "mean grey level": flat.mean(1), "contrast (std)": flat.std(1)})
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, col in zip(axes, ["mean grey level", "contrast (std)"]):
        sns.boxplot(frame, x="class", y=col, ax=ax, fliersize=1)
        ax.tick_params(axis="x", rotation=30)
        ax.set_xlabel("")
    fig.tight_layout()
    return fig


def learning_curves(history: dict, metrics=("loss", "accuracy", "macro_precision", "macro_recall", "macro_f1")):
    """One panel per metric, training and selection (public) curves over the epochs."""
    shown = [m for m in metrics if m in history or f"val_{m}" in history]
    fig, axes = plt.subplots(1, len(shown), figsize=(3.4 * len(shown), 3.2), squeeze=False)
    for ax, m in zip(axes[0], shown):
        for key, label in ((m, "train"), (f"val_{m}", "public (selection)")):
            if key in history:
                ax.plot(np.arange(1, len(history[key]) + 1), history[key], label=label)
        ax.set(title=m.replace("_", " "), xlabel="epoch")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def confusion_heatmaps(counts: pd.DataFrame, normalised: pd.DataFrame, title: str = ""):
    """Counts and row-normalised confusion matrices side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", cbar=False, ax=axes[0])
    sns.heatmap(normalised, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1, cbar=False, ax=axes[1])
    axes[0].set_title(f"{title} counts")
    axes[1].set_title(f"{title} share of each true class (recall on the diagonal)")
    fig.tight_layout()
    return fig


def reliability_diagram(tables: dict, title: str = "Reliability diagram"):
    """Accuracy against confidence per bin, one line per ``{label: evaluate.reliability(...) table}``."""
    fig, ax = plt.subplots(figsize=(4.8, 4.5))
    ax.plot([0, 1], [0, 1], ls="--", c="gray", label="perfectly calibrated")
    for label, t in tables.items():
        t = t.dropna()
        ax.plot(t["confidence"], t["accuracy"], marker="o", label=label)
    ax.set(xlabel="confidence (max probability)", ylabel="accuracy", title=title, xlim=(0, 1), ylim=(0, 1))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def saliency_grid(images, maps_by_method: dict, titles, cmap="inferno"):
    """One row per image: the face, then each method's map over it."""
    n, methods = len(images), list(maps_by_method)
    fig, axes = plt.subplots(n, len(methods) + 1, figsize=(1.7 * (len(methods) + 1), 1.8 * n), squeeze=False)
    for i in range(n):
        face = np.asarray(images[i])[..., 0]
        axes[i, 0].imshow(face, cmap="gray", vmin=0, vmax=255)
        axes[i, 0].set_ylabel(titles[i], fontsize=8)
        for j, m in enumerate(methods, start=1):
            axes[i, j].imshow(face, cmap="gray", vmin=0, vmax=255)
            axes[i, j].imshow(maps_by_method[m][i], cmap=cmap, alpha=0.6)
            if i == 0:
                axes[i, j].set_title(m, fontsize=9)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_title("face", fontsize=9)
    fig.tight_layout()
    return fig
