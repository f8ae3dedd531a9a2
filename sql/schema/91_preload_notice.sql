------------------------------------------------------------------------------------------
-- Installation only: say what is missing without shared_preload_libraries
------------------------------------------------------------------------------------------

SELECT apikeys._notice_if_not_preloaded();
