"""Fine-tune the multilingual transformer teacher (`spacy project run teacher-train`): a CLI over review_distill.teacher."""
from pathlib import Path
from typing import List

import typer
from wasabi import msg

from review_distill.cli import run
from review_distill.device import check_device
from review_distill.tasks import read_task, task_setting
from review_distill.teacher import train_teacher


def main(
    config_path: Path = typer.Argument(..., exists=True, dir_okay=False),
    output_dir: Path = typer.Argument(..., help="The teacher goes to OUTPUT_DIR/model-best"),
    metrics_path: Path = typer.Argument(..., help="JSON file for test accuracy and macro-F1 per language"),
    languages: List[str] = typer.Argument(...),
    dev_metrics_path: Path = typer.Option(..., "--dev-metrics", help="JSON file for the dev scores"),
    corpus_dir: Path = typer.Option(Path("corpus/splits"), help="Holds {lang}/{train,dev,test}.spacy"),
    merged_dir: Path = typer.Option(Path("corpus/teacher"), help="Where the merged train and dev sets go"),
    code: Path = typer.Option(..., exists=True, dir_okay=False, help="The config's registered functions"),
    transformer: str = typer.Option(..., help="Hugging Face model directory or name"),
    gpu_id: int = typer.Option(-1, help="GPU id, -1 for CPU"),
    unlabeled: str = typer.Option("", help="Space-separated languages whose gold labels it never trains on"),
    checkpoint_dev_docs: int = typer.Option(0, min=0, help="Dev reviews per language that pick the best checkpoint "
                                            "during training (0: all)"),
    frozen_fraction: str = typer.Option("auto", help="Share of the encoder's layers kept frozen, besides its "
                                        "embeddings (auto: the task's default)"),
    frozen_embeddings: str = typer.Option("auto", help="The encoder's embeddings kept frozen: all (the whole "
                                          "embeddings module) or words (the word-embedding table; auto: the "
                                          "task's default)"),
    attention_dropout: str = typer.Option("auto", help="The transformer's attention dropout (auto: the task's default)"),
):
    check_device(gpu_id)
    task = read_task(corpus_dir / "task.json")
    frozen_fraction = task_setting(frozen_fraction, "teacher_frozen_fraction", task)
    frozen_embeddings = task_setting(frozen_embeddings, "teacher_frozen_embeddings", task)
    attention_dropout = task_setting(attention_dropout, "teacher_attention_dropout", task)
    msg.info(f"The task {task.name}, {len(task.labels)} labels: {frozen_fraction} of the encoder's layers frozen, "
             f"embeddings frozen: {frozen_embeddings}, attention dropout {attention_dropout}")
    train_teacher(config_path, output_dir, metrics_path, languages, dev_metrics_path=dev_metrics_path,
                  corpus_dir=corpus_dir, merged_dir=merged_dir, code=code, transformer=transformer, gpu_id=gpu_id,
                  unlabeled=unlabeled.split(), checkpoint_dev_docs=checkpoint_dev_docs,
                  frozen_fraction=frozen_fraction, frozen_embeddings=frozen_embeddings,
                  attention_dropout=attention_dropout)


if __name__ == "__main__":
    run(main)
