"""Benchmark `onecsync validate` on a large message: objects per second and peak memory.

    python bench/validate_large.py [N ...]

Writes bench/out/large-<N>.xml (N counterparties and N nomenclature items, EnterpriseData 1.8),
then checks each file in a fresh process and prints the time, the rate and the peak RSS. Flat
memory means the peak barely moves while N grows a hundredfold.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))

from tests import factory as f  # noqa: E402

ITEM = ("<Справочник.Номенклатура><КлючевыеСвойства><Ссылка>{ref}</Ссылка>"
        "<НаименованиеПолное>Товар {i}</НаименованиеПолное><КодВПрограмме>{i:011d}"
        "</КодВПрограмме><Наименование>Товар {i}</Наименование></КлючевыеСвойства>"
        "<ТипНоменклатуры>Товар</ТипНоменклатуры><Описание>Монитор 27 дюймов</Описание>"
        "<ЕдиницаИзмерения><Ссылка>70199a4a-b74d-4622-a13b-1037ddb63eff</Ссылка>"
        "<ДанныеКлассификатора><Код>796</Код><Наименование>шт</Наименование>"
        "</ДанныеКлассификатора></ЕдиницаИзмерения><СтавкаНДС>БезНДС</СтавкаНДС>"
        "</Справочник.Номенклатура>")

CHILD = """
import resource, sys, time
from pathlib import Path
from onecsync.protocol.check import check_message
t = time.perf_counter()
c = check_message(Path(sys.argv[1]))
dt = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{c.objects} {c.problems_total} {dt:.2f} {rss:.0f}")
"""


def write(n: int) -> Path:
    path = OUT / f"large-{n}.xml"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    head, tail = f.Msg(objects=["@@"]).xml().decode().split("@@")
    with open(path, "w", encoding="utf-8") as out:
        out.write(head)
        for i in range(n):
            out.write(f.counterparty(f.ref(i), f"ООО Ромашка {i}", "7701234567") + "\n")
            out.write(ITEM.format(ref=f.ref(i, "bbbbbbbb"), i=i) + "\n")
        out.write(tail)
    return path


def main(sizes: list[int]) -> None:
    print(f"{'objects':>9} {'MB':>7} {'seconds':>8} {'objects/s':>10} {'peak RSS MB':>12}")
    for n in sizes:
        path = write(n)
        started = time.perf_counter()
        line = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True,
                              text=True, check=True, cwd=ROOT).stdout.split()
        objects, problems, secs, rss = int(line[0]), int(line[1]), float(line[2]), line[3]
        assert problems == 0, f"{problems} problems in {path}"
        print(f"{objects:>9} {path.stat().st_size / 1e6:>7.1f} {secs:>8.2f} "
              f"{objects / secs:>10.0f} {rss:>12}  (wall {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1_000, 10_000, 100_000])
