# probe-modules: zipfile shutil
# An in-memory zip archive and shutil's pure-Python helpers.
import io
import shutil
import zipfile

buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
    # Fixed dates: writestr(name) would stamp the current time.
    z.writestr(zipfile.ZipInfo("a.txt", date_time=(2020, 1, 2, 3, 4, 4)), "hello\n" * 3)
    z.writestr(zipfile.ZipInfo("dir/b.bin", date_time=(2020, 1, 2, 3, 4, 6)), b"\x00\x01\x02")
buf.seek(0)
with zipfile.ZipFile(buf) as z:
    print(z.namelist(), [(i.filename, i.file_size, i.date_time) for i in z.infolist()[1:]], z.read("a.txt"))
    print(z.testzip(), zipfile.Path(z, "dir/").is_dir())
print(shutil.get_terminal_size((80, 24)).columns > 0, shutil.which("definitely-not-a-command-xyz"))
