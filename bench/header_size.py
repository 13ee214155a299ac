"""Is reading a message linear in what a base puts in one place? Times 1× and 8× of each shape.

Usage: python bench/header_size.py [--size 4000] [--check RATIO]

Shapes, each read by onecsync's streaming reader (the header, then every body object):
  declared-types  a header whose AvailableObjectTypes lists N types (1C lists a few hundred)
  table-rows      one body object with a table of N rows
  unused-xmlns    N/4 unused namespace declarations on the root, 200 objects
Linear reading makes 8× the size cost about 8× the time; the quadratic clear() of lxml made it
50–60×. With --check, a ratio above RATIO (24 is generous: a loaded machine skews single runs)
exits 1; without it, figures only. Best of 3 runs each.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from onecsync.protocol.reader import MessageReader  # noqa: E402
from tests import factory as f  # noqa: E402


def declared_types(n: int) -> bytes:
    decl = "".join(f"<msg:ObjectType><msg:Name>Справочник.Тип{i}</msg:Name><msg:Sending>*</msg:Sending>"
                   "<msg:Receiving>*</msg:Receiving></msg:ObjectType>" for i in range(n))
    return f.Msg(objects=[f.currency(f.ref(1))],
                 header_extra=f"<msg:AvailableObjectTypes>{decl}</msg:AvailableObjectTypes>").xml()


def table_rows(n: int) -> bytes:
    rows = "".join(f"<Строка><Номер>{i}</Номер><Количество>1</Количество></Строка>" for i in range(n))
    obj = f.counterparty(f.ref(1), "ООО Ромашка").replace("</Справочник.Контрагенты>",
                                                          f"<Таблица>{rows}</Таблица></Справочник.Контрагенты>")
    return f.Msg(objects=[obj]).xml()


def unused_xmlns(n: int) -> bytes:
    junk = " ".join(f'xmlns:j{i}="urn:bench:{i}"' for i in range(n // 4))
    data = f.Msg(objects=[f.counterparty(f.ref(i), f"ООО {i}") for i in range(200)]).xml()
    return data.replace(b"<Message ", f"<Message {junk} ".encode(), 1)


SHAPES = {"declared-types": declared_types, "table-rows": table_rows, "unused-xmlns": unused_xmlns}


def read(data: bytes) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        reader = MessageReader(io.BytesIO(data), "bench.xml", check_schema=True)
        for _ in reader.objects():
            pass
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 8× of 4000 stays within the reader's bounds (HEADER_LIMIT, markup.MAX_ATTRIBUTES).
    parser.add_argument("--size", type=int, default=4000, help="N of the 1× case")
    parser.add_argument("--check", type=float, help="exit 1 if 8× costs more than this many times 1×")
    args = parser.parse_args()
    worst = 0.0
    print(f"{'shape':16} {'1× MB':>7} {'1× s':>8} {'8× MB':>7} {'8× s':>8} {'ratio':>6}")
    for name, make in SHAPES.items():
        small, large = make(args.size), make(8 * args.size)
        t1, t8 = read(small), read(large)
        worst = max(worst, t8 / t1)
        print(f"{name:16} {len(small) / 1e6:7.2f} {t1:8.3f} {len(large) / 1e6:7.2f} {t8:8.3f} {t8 / t1:6.1f}")
    if args.check is not None and worst > args.check:
        print(f"8× the size cost {worst:.1f}× the time (more than {args.check}×): not linear")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
