def test_rows_start_empty(db_sesion):
    assert db_sesion.rows == []


def test_patch_clock(mocker):
    clock = mocker.patch("time.time", return_value=0)
    assert clock() == 0


def test_writes_into_temp_dir(temp_dir):
    assert temp_dir.exists()


def test_orders_table(database):
    assert database.rows == []


def test_coupon_rows(migrated_db):
    assert migrated_db.rows == []


def test_upload_report(upload_dir):
    assert upload_dir
