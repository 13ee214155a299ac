"""Peak memory of reading one large body object: hostile shapes against a realistic document.

    python bench/object_memory.py [--mib 64] [SHAPE ...]

Each shape is one object of about MIB MiB (just under OBJECT_LIMIT by default, so that the byte
bound alone does not trim it) between two small ones, written to a temporary file and read by
`MessageReader` in a fresh process; printed: the objects read, how the large one ended (its
problem, cut), the peak RSS (ru_maxrss of that process), its CPU seconds and the wall. Shapes:
`flat` (`<a/>` repeated), `deep` (groups of `<a>` nested 200 deep), `text` (`<a>x</a>`), `rows`
(a sale with rows of about 50 elements, as 1C writes them). Figures only: nothing here passes or
fails on them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import factory as f  # noqa: E402

ROW = ("<Строка><ДанныеНоменклатуры><Номенклатура><Ссылка>87a0454d-7965-4f42-bf7f-703467d9b21c"
       "</Ссылка><НаименованиеПолное>Монитор 27\" IPS QHD</НаименованиеПолное><КодВПрограмме>"
       "00000000{i:03d}</КодВПрограмме><Наименование>Монитор 27\"</Наименование><Артикул>M27-Q"
       "</Артикул><ЕдиницаИзмерения><Ссылка>70199a4a-b74d-4622-a13b-1037ddb63eff</Ссылка>"
       "<ДанныеКлассификатора><Код>796</Код><Наименование>шт</Наименование>"
       "</ДанныеКлассификатора></ЕдиницаИзмерения></Номенклатура><Характеристика/>"
       "</ДанныеНоменклатуры><ЕдиницаИзмерения><Ссылка>70199a4a-b74d-4622-a13b-1037ddb63eff"
       "</Ссылка><ДанныеКлассификатора><Код>796</Код><Наименование>шт</Наименование>"
       "</ДанныеКлассификатора></ЕдиницаИзмерения><Количество>12</Количество><Цена>8300.00</Цена>"
       "<Сумма>99600.00</Сумма><СтавкаНДС>НДС20</СтавкаНДС><СуммаНДС>16600.00</СуммаНДС>"
       "<Склад><Ссылка>5b0f6c8e-2f1d-4c55-9d34-0c4ae0c2f7a1</Ссылка><Наименование>Основной склад"
       "</Наименование><ТипСклада>ОптовыйСклад</ТипСклада></Склад><СчетУчета><Код>41.01</Код>"
       "</СчетУчета><СчетДоходов><Код>90.01.1</Код></СчетДоходов><СчетРасходов><Код>90.02.1"
       "</Код></СчетРасходов><СчетУчетаНДСПоРеализации><Код>90.03</Код>"
       "</СчетУчетаНДСПоРеализации><Субконто><Номенклатурная_группа>Основная</Номенклатурная_группа>"
       "</Субконто><НомерГТД/><СтранаПроисхождения><Код>156</Код></СтранаПроисхождения></Строка>")
SHAPES = {
    "flat": lambda i: b"<a/>" * 1000,
    "deep": lambda i: b"<a>" * 200 + b"</a>" * 200,
    "text": lambda i: b"<a>x</a>" * 500,
    "rows": lambda i: ROW.format(i=i % 1000).encode(),
}

CHILD = """
import resource, sys, time
from onecsync.protocol.reader import MessageReader
t, c = time.perf_counter(), time.process_time()
with open(sys.argv[1], "rb") as fh:
    objs = list(MessageReader(fh, "big.xml").objects())
wall, cpu = time.perf_counter() - t, time.process_time() - c
big = objs[1]
print(len(objs), len(big.xml), repr((big.problem or "-")[:110]),
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, f"{cpu:.1f}", f"{wall:.1f}")
"""


def write(shape: str, mib: int, folder: str) -> Path:
    path = Path(folder) / f"{shape}.xml"
    sale = f.sale(f.ref(1), None)
    head = sale.encode().split("</Документ.РеализацияТоваровУслуг>".encode())[0]
    before, after = f.Msg(objects=[f.currency(f.ref(2)), "@@", f.currency(f.ref(3))]).xml() \
        .split(b"@@")
    budget = mib * (1 << 20) - len(head) - 64
    with open(path, "wb") as out:
        out.write(before + head + "<Товары>".encode())
        i = 0
        while budget > 0:
            part = SHAPES[shape](i)
            out.write(part)
            budget -= len(part)
            i += 1
        out.write("</Товары></Документ.РеализацияТоваровУслуг>".encode() + after)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=63)
    ap.add_argument("shapes", nargs="*", default=list(SHAPES))
    args = ap.parse_args()
    print("load average", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"{'shape':>6} {'MiB':>4} {'tags':>10}  objects stub-bytes problem peak-RSS-MiB cpu-s wall-s")
    with tempfile.TemporaryDirectory() as folder:
        for shape in args.shapes:
            path = write(shape, args.mib, folder)
            tags = path.read_bytes().count(b"<")
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True,
                                 text=True, cwd=str(ROOT))
            if out.returncode:
                sys.exit(out.stderr)
            print(f"{shape:>6} {args.mib:>4} {tags:>10}  {out.stdout.strip()}"
                  f"  (total {time.perf_counter() - t:.1f}s)")
            path.unlink()


if __name__ == "__main__":
    main()
